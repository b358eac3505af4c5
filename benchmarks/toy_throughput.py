"""Toy training throughput: the batched trainer against the naive one-model-at-a-time baseline.

Measures, in one process on one device, at the config's scale (paper scale by default):
  - batched: every run of one hyperparameter set (seeds × {ALI, GAN}) stepping together, as
    `toy-train` does (CUDA-graph replay on a GPU when the config allows it);
  - naive: one run at a time, plain nn layers, torch.optim.Adam, eager (`train_alone`'s step).
Prints steps/s, the projected wall time of the full paper protocol (both hyperparameter sets, all
epochs) for each, and their ratio.

    python benchmarks/toy_throughput.py                      # config/config.yaml, auto device
    python benchmarks/toy_throughput.py --steps 20 --device cpu
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import torch

from ali_bench.config import load_config
from ali_bench.cuda_graphs import CALLS_BEFORE_REPLAY
from ali_bench.device import device_name, resolve_device
from ali_bench.nets.toy import TOY_MODELS
from ali_bench.toy.runs import plan_runs
from ali_bench.toy.train import RunGroup, build_group, epoch_inputs, initial_state
from ali_bench.training import MONITORS, adversarial_step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_batched(cfg, groups: list[RunGroup], device, steps: int, warmup: int) -> float:
    """Seconds per training step of all runs of one hyperparameter set, as toy-train's epoch loop runs
    it: each group's batch gathered from the resident data by its runs' orders, the step, the
    monitors summed on the device. The epoch's CPU draws are timed apart (``time_epoch_draws``)."""
    batch, latent, n = cfg.training.batch_size, cfg.network.latent_dim, cfg.mixture.n_train
    warmup = max(warmup, CALLS_BEFORE_REPLAY)  # time replays, not the capture
    data = torch.randn(n, 2, device=device)  # (N, 2), resident
    inputs = [
        (
            torch.randint(n, (len(g.runs), (steps + warmup) * batch), device=device),  # order (M, S·B)
            torch.randn(len(g.runs), batch, latent, device=device),
            torch.randn(len(g.runs), batch, latent, device=device),
        )
        for g in groups
    ]
    totals = [torch.zeros(len(MONITORS), len(g.runs), device=device) for g in groups]

    def step(i: int) -> None:
        for group, (order, z, eps), total in zip(groups, inputs, totals, strict=True):
            total += group.step(data[order[:, i * batch : (i + 1) * batch]], z, eps)

    for i in range(warmup):
        step(i)
    _sync(device)
    start = time.perf_counter()
    for i in range(warmup, warmup + steps):
        step(i)
    _sync(device)
    return (time.perf_counter() - start) / steps


def time_epoch_draws(cfg, groups: list[RunGroup], steps_per_epoch: int, device) -> float:
    """Seconds for one epoch's draws (toy-train's ``epoch_inputs``: every seed's data order, z and ε
    on the CPU, stacked per group, then to the device), which toy-train makes once per epoch."""
    start = time.perf_counter()
    epoch_inputs(groups, cfg, 0, steps_per_epoch, device, torch.float32)
    _sync(device)
    return time.perf_counter() - start


def time_naive(cfg, device, steps: int, warmup: int) -> float:
    """Seconds per training step of one run, averaged over one ALI and one GAN run."""
    per_model = []
    for run in [r for r in plan_runs(cfg, "random") if r.seed == cfg.seeds[0]]:
        model = TOY_MODELS[run.model](cfg.network)
        model.load_state_dict(initial_state(cfg, run))
        model.to(device).train()
        adam = partial(
            torch.optim.Adam, lr=run.lr, betas=(run.beta1, cfg.training.adam_beta2), eps=cfg.training.adam_eps
        )
        opt_d, opt_g = adam(model.discriminator_parameters()), adam(model.generator_parameters())
        args = [
            torch.randn(cfg.training.batch_size, d, device=device)
            for d in (2, cfg.network.latent_dim, cfg.network.latent_dim)
        ]
        for _ in range(warmup):
            adversarial_step(model, opt_d, opt_g, *args)
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            adversarial_step(model, opt_d, opt_g, *args)
        _sync(device)
        per_model.append((time.perf_counter() - start) / steps)
    return sum(per_model) / len(per_model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--no-cuda-graphs", action="store_true")
    args = parser.parse_args()

    config = load_config(args.config)
    cfg = config.toy
    device = resolve_device(args.device)
    graphs = config.cuda_graphs and not args.no_cuda_graphs and device.type == "cuda"
    steps_per_epoch = cfg.mixture.n_train // cfg.training.batch_size
    total_steps = steps_per_epoch * cfg.training.epochs
    n_sets, n_runs = len(cfg.hyperparameter_sets), len(cfg.models) * len(cfg.seeds)

    runs = plan_runs(cfg, "random")
    groups = [
        build_group(cfg, [r for r in runs if r.model == kind], device, torch.float32, graphs) for kind in cfg.models
    ]
    batched = time_batched(cfg, groups, device, args.steps, args.warmup)
    draws = time_epoch_draws(cfg, groups, steps_per_epoch, device)
    naive = time_naive(cfg, device, args.steps, args.warmup)
    # one hyperparameter set (the issue's "20 paper-scale runs"): its steps and its epochs' draws
    batched_set = batched * total_steps + draws * cfg.training.epochs
    naive_set = naive * total_steps * n_runs
    print(f"device: {device_name(device)}; torch {torch.__version__}; cuda graphs: {graphs}")
    print(
        f"scale: {n_sets} hyperparameter sets x {n_runs} runs, {cfg.training.epochs} epochs x {steps_per_epoch} steps, "
        f"hidden {cfg.network.decoder_hidden[0]}"
    )
    print(f"epoch draws: {draws * 1e3:.1f} ms per epoch ({len(cfg.seeds)} seeds, CPU, then to the device)")
    print(
        f"batched: {batched * 1e3:.2f} ms per step of {n_runs} runs -> {n_runs / batched:,.0f} run-steps/s; "
        f"projected {batched_set / 60:.1f} min per set of {n_runs} runs, {batched_set * n_sets / 60:.1f} min for all {n_sets}"
    )
    print(
        f"naive:   {naive * 1e3:.2f} ms per step of 1 run   -> {1 / naive:,.0f} run-steps/s; "
        f"projected {naive_set / 60:.1f} min per set of {n_runs} runs, {naive_set * n_sets / 60:.1f} min for all {n_sets}"
    )
    print(f"speed-up (naive / batched wall time): {naive_set / batched_set:.1f}x")


if __name__ == "__main__":
    main()
