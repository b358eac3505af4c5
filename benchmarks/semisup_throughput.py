"""Throughput of the K+1-class semi-supervised step, eager against graphed, and projected wall times.

Times ``semisup_train_step`` (100 labelled + 100 unlabelled images, 100 prior draws; encoder,
decoder and the K-logit discriminator; both Adam updates; the average of D) on one device, in one
process: eagerly (fused Adam on a GPU) and, on a GPU, replayed as a CUDA graph (``StepRunner``, the
path ``semisup-train`` takes with ``cuda_graphs: true``). Projects one run of the config (CIFAR-10
by default: 1,200 epochs of the 50,000 training images = 600,000 steps) and the whole protocol of
that dataset's table (every label count x every seed of config/config.yaml).

    python benchmarks/semisup_throughput.py                       # CIFAR-10 on the GPU
    python benchmarks/semisup_throughput.py --device cpu --steps 3 --warmup 1 --dataset svhn
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import torch

from ali_bench.config import load_config
from ali_bench.cuda_graphs import CALLS_BEFORE_REPLAY, StepRunner
from ali_bench.data.images import ImageSplit
from ali_bench.device import device_name, resolve_device
from ali_bench.semisup.average import DiscriminatorAverage
from ali_bench.semisup.model import build
from ali_bench.semisup.settings import SemisupSettings
from ali_bench.semisup.train import make_optimisers, semisup_train_step, set_learning_rate

UNLABELLED = {"svhn": 73_257, "cifar10": 50_000, "digits": 1_297}


def time_step(settings: SemisupSettings, device: torch.device, graphed: bool, steps: int, warmup: int) -> float:
    """Seconds per step of a fresh model, after ``warmup`` steps (the graph's capture among them)."""
    images = torch.randint(0, 256, (1000, 3, 32, 32), dtype=torch.uint8)
    model = build(settings, 10, ImageSplit(images, torch.zeros(1000, dtype=torch.long))).to(device)
    opt_d, opt_g = make_optimisers(model, settings, device, use_graph=graphed)
    average = DiscriminatorAverage(model, settings.ema_decay, settings.ema_warmup)
    step = StepRunner(
        partial(
            semisup_train_step,
            model,
            opt_d,
            opt_g,
            average,
            separate=settings.d_batchnorm == "separate",
            unlabelled_weight=settings.unlabelled_weight,
        ),
        use_graph=graphed,
    )
    batch = settings.batch_size
    x, y = images.to(device), (torch.arange(batch) % 10).to(device)
    set_learning_rate((opt_d, opt_g), settings.lr)
    for _ in range(warmup):
        step(x[:batch], y, x[batch : 2 * batch])
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step(x[:batch], y, x[batch : 2 * batch])
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar10", choices=list(UNLABELLED))
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    config = load_config("config/config.yaml")
    cfg = config.semisup
    run = cfg.run(args.dataset)
    device = resolve_device(args.device)
    if device.type == "cuda":  # as semisup-train runs: torch's TF32 defaults, autotuned convolutions (determinism.py)
        torch.backends.cudnn.benchmark = True
    settings = SemisupSettings(
        args.dataset,
        run.labels[0],
        0,
        run.epochs,
        cfg.batch_size,
        cfg.lr,
        cfg.beta1,
        cfg.decay_fraction,
        cfg.ema_decay,
        run.width,
        config.images.variant,
        "ali",
        d_batchnorm=cfg.d_batchnorm,
        ema_warmup=cfg.ema_warmup,
        unlabelled_weight=cfg.unlabelled_weight,
    )
    batch = cfg.batch_size
    steps_per_run = run.epochs * (UNLABELLED[args.dataset] // batch)
    runs = len(run.labels) * len(cfg.seeds)
    print(
        f"device: {device_name(device)}; torch {torch.__version__}; {args.dataset}, batch {batch} labelled + {batch} "
        f"unlabelled, width {run.width}, D batch norm {cfg.d_batchnorm}"
    )
    timings = {"eager": time_step(settings, device, False, args.steps, args.warmup)}
    if device.type == "cuda":  # time replays, not the capture
        timings["graphed"] = time_step(settings, device, True, args.steps, max(args.warmup, CALLS_BEFORE_REPLAY))
    for name, per_step in timings.items():
        print(
            f"{name:8s} {per_step * 1e3:8.2f} ms/step = {2 * batch / per_step:9,.0f} real images/s; one run "
            f"({run.epochs} epochs x {UNLABELLED[args.dataset] // batch} steps = {steps_per_run:,} steps): "
            f"{per_step * steps_per_run / 3600:.1f} h; the table's {runs} runs ({len(run.labels)} label counts x "
            f"{len(cfg.seeds)} seeds): {per_step * steps_per_run * runs / 3600:.0f} h of this device"
        )
    if "graphed" in timings:
        print(f"graphed / eager speed-up: {timings['eager'] / timings['graphed']:.2f}x (target >= 3x)")
    else:
        print("graphed: needs a CUDA GPU (CUDA-graph replay); eager only on this device")


if __name__ == "__main__":
    main()
