"""Toy inference training throughput: GAN + inverse mapping, GAN + post-hoc inference, VAE.

Times each method's training step at the config's scale on one device and projects the wall
time of its full training (toy_inference.epochs over toy.mixture.n_train points). The three
jobs are independent Snakemake jobs, so with one GPU they run one after another: the total is
their sum.

    python benchmarks/toy_inference_throughput.py                 # config/config.yaml, auto device
    python benchmarks/toy_inference_throughput.py --device cpu --steps 30
"""

from __future__ import annotations

import argparse
import time

import torch

from ali_bench.config import load_config
from ali_bench.device import device_name, resolve_device
from ali_bench.nets.toy import ToyGAN
from ali_bench.toy_inference.methods import build_method, make_trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()

    cfg = load_config(args.config)
    toy, settings = cfg.toy, cfg.toy_inference
    device = resolve_device(args.device)
    steps_total = settings.epochs * (toy.mixture.n_train // settings.batch_size)
    decoder = ToyGAN(toy.network).decoder.state_dict()
    batch, latent = settings.batch_size, toy.network.latent_dim
    print(
        f"device: {device_name(device)}; torch {torch.__version__}; {settings.epochs} epochs x "
        f"{toy.mixture.n_train // batch} steps per method, hidden {toy.network.decoder_hidden[0]}"
    )
    total = 0.0
    for method in settings.methods:
        model = build_method(method, toy, settings, decoder).to(device).train()
        trainer = make_trainer(method, model, settings, settings.vae_decoder_std)
        x, z, eps = (torch.randn(batch, d, device=device) for d in (2, latent, latent))
        for _ in range(args.warmup):
            trainer.step(x, z, eps)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(args.steps):
            trainer.step(x, z, eps)
        if device.type == "cuda":
            torch.cuda.synchronize()
        per_step = (time.perf_counter() - start) / args.steps
        total += per_step * steps_total
        print(f"{method:8s} {per_step * 1e3:7.2f} ms/step -> projected {per_step * steps_total / 60:6.1f} min")
    print(f"all methods, one after another: {total / 60:.1f} min")


if __name__ == "__main__":
    main()
