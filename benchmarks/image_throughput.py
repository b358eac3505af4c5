"""Image ALI training throughput: the harness's fast step against a naive eager fp32 step.

Both run the same model (default: SVHN, batch 100) on the same device in one process:
  - fast: what `image-train` runs: data resident on the device, CUDA-graph replay, fused Adam,
    channels-last convolutions, TF32 (bf16 autocast too with --bf16);
  - naive: eager, fp32 (TF32 off), NCHW, for-loop Adam, no graph.
Prints images/s of each, their ratio, the FLOPs of one training step per image (counted by
torch.utils.flop_counter on the fast step's function), the achieved fraction of the GPU's peak,
and the projected wall time of the paper's training (SVHN: 100 epochs of the 531,131-image extra split).

    python benchmarks/image_throughput.py                        # SVHN on the GPU
    python benchmarks/image_throughput.py --device cpu --steps 3 --width 0.25
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import torch
from torch.utils.flop_counter import FlopCounterMode

from ali_bench.config import load_config
from ali_bench.cuda_graphs import CALLS_BEFORE_REPLAY
from ali_bench.data.images import ImageSplit
from ali_bench.device import device_name, resolve_device
from ali_bench.images.train import image_step, make_trainer
from ali_bench.nets import image_architecture
from ali_bench.nets.image import ImageALI

# Dense peak throughput of an H100 SXM, the same for an H200 SXM (NVIDIA datasheets), TFLOP/s, by the
# precision the step runs in.
H100_PEAK_TFLOPS = {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4}
TRAIN_IMAGES = {"svhn": 531_131, "cifar10": 45_000, "celeba": 162_770, "tiny_imagenet": 1_281_167, "digits": 1_297}


def _timed(step, batch_fn, steps: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        step(batch_fn())
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step(batch_fn())
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="svhn", choices=list(TRAIN_IMAGES))
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--batch", type=int)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--bf16", action="store_true")
    args = parser.parse_args()

    device = resolve_device(args.device)
    base = load_config("config/config.yaml").images
    run = base.run(args.dataset)
    batch = args.batch or run.batch_size
    overrides = {"bf16": args.bf16, args.dataset: {"width": args.width, "batch_size": batch}}
    cfg = load_config({"images": overrides}).images
    size = image_architecture(args.dataset).image_size
    data = torch.randint(0, 256, (batch * 8, 3, size, size), dtype=torch.uint8)
    split = ImageSplit(data, torch.zeros(len(data), dtype=torch.long))
    resident = data.to(device)
    counter = iter(range(10**9))

    def batch_fn():
        i = next(counter) % 8
        return resident[i * batch : (i + 1) * batch]

    fast = make_trainer(args.dataset, cfg, split, device, cuda_graphs=True)
    # time replays, not the capture
    fast_s = _timed(fast.step, batch_fn, args.steps, max(args.warmup, CALLS_BEFORE_REPLAY), device)

    if device.type == "cuda":  # the naive step: plain fp32, no autotuned convolutions (make_trainer turned both on)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = False
    torch.manual_seed(0)
    model = ImageALI(image_architecture(args.dataset, width=args.width)).to(device).train()
    adam = partial(torch.optim.Adam, lr=1e-4, betas=(0.5, 0.999), foreach=False)
    naive_step = partial(image_step, model, adam(model.discriminator_parameters()), adam(model.generator_parameters()))
    naive_s = _timed(naive_step, batch_fn, args.steps, args.warmup, device)

    with FlopCounterMode(display=False) as flops:
        naive_step(batch_fn())
    flops_per_image = flops.get_total_flops() / batch
    precision = "bf16" if args.bf16 else ("tf32" if cfg.tf32 and device.type == "cuda" else "fp32")
    steps_per_epoch = TRAIN_IMAGES[args.dataset] // batch
    print(f"device: {device_name(device)}; torch {torch.__version__}; {args.dataset} width {args.width}, batch {batch}")
    print(
        f"fast  ({precision}, CUDA graph: {fast.step.use_graph}): {fast_s * 1e3:8.2f} ms/step  {batch / fast_s:10.0f} images/s"
    )
    print(f"naive (fp32 eager):                  {naive_s * 1e3:8.2f} ms/step  {batch / naive_s:10.0f} images/s")
    print(f"speed-up: {naive_s / fast_s:.2f}x")
    print(f"training step: {flops_per_image / 1e9:.3f} GFLOP per image (forward + both backward passes)")
    if device.type == "cuda":
        achieved = flops_per_image * batch / fast_s / 1e12
        print(
            f"achieved {achieved:.1f} TFLOP/s = {achieved / H100_PEAK_TFLOPS[precision]:.1%} of an H100/H200 SXM's dense {precision} peak"
        )
    print(
        f"projected paper training ({run.epochs} epochs x {steps_per_epoch} steps): "
        f"fast {fast_s * steps_per_epoch * run.epochs / 3600:.1f} h, naive {naive_s * steps_per_epoch * run.epochs / 3600:.1f} h"
    )


if __name__ == "__main__":
    main()
