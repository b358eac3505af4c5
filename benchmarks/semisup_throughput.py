"""Throughput of the K+1-class semi-supervised step, and the projected wall time of one run.

Times `semisup_step` (100 labelled + 100 unlabelled images, 100 prior draws; encoder, decoder and
the K-logit discriminator; both updates; the EMA of D) on one device, and projects one run of the
config: CIFAR-10 by default, 1,200 epochs of the 50,000 training images = 600,000 steps.

    python benchmarks/semisup_throughput.py                       # CIFAR-10 on the GPU
    python benchmarks/semisup_throughput.py --device cpu --steps 3 --dataset svhn
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import torch

from ali_bench.config import load_config
from ali_bench.data.images import ImageSplit
from ali_bench.device import device_name, resolve_device
from ali_bench.semisup import DiscriminatorAverage, SemisupSettings, build, semisup_step

UNLABELLED = {"svhn": 73_257, "cifar10": 50_000, "digits": 1_297}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar10", choices=list(UNLABELLED))
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    cfg = load_config("config/config.yaml").semisup
    run = cfg.run(args.dataset)
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    settings = SemisupSettings(args.dataset, run.labels[0], 0, run.epochs, cfg.batch_size, cfg.lr, cfg.beta1,
                               cfg.decay_fraction, cfg.ema_decay, run.width, "code", False)
    images = torch.randint(0, 256, (1000, 3, 32, 32), dtype=torch.uint8)
    model = build(settings, 10, ImageSplit(images, torch.zeros(1000, dtype=torch.long))).to(device)
    adam = partial(torch.optim.Adam, lr=cfg.lr, betas=(cfg.beta1, 0.999), fused=True if device.type == "cuda" else None)
    opt_d, opt_g = adam(model.discriminator_parameters()), adam(model.generator_parameters())
    average = DiscriminatorAverage(model, cfg.ema_decay)
    batch = cfg.batch_size
    x = images.to(device)
    y = (torch.arange(batch) % 10).to(device)

    def step():
        semisup_step(model, opt_d, opt_g, x[:batch], y, x[batch : 2 * batch])
        average.update(model)

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    per_step = (time.perf_counter() - start) / args.steps
    steps_per_run = run.epochs * (UNLABELLED[args.dataset] // batch)
    fused = " with fused Adam" if device.type == "cuda" else ""
    print(f"device: {device_name(device)}; torch {torch.__version__}; {args.dataset}, eager step{fused}")
    print(f"{per_step * 1e3:.1f} ms/step = {2 * batch / per_step:,.0f} real images/s (labelled + unlabelled)")
    print(f"one run ({run.epochs} epochs x {UNLABELLED[args.dataset] // batch} steps = {steps_per_run:,} steps): "
          f"{per_step * steps_per_run / 3600:.1f} h")


if __name__ == "__main__":
    main()
