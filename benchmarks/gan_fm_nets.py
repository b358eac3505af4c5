"""GAN-FM's networks on the embedded digits: test error and wall time of one seeded run per choice.

Why: ``semisup.<dataset>.gan_fm_nets`` defaults to improved-GAN's MNIST MLP for digits and to its
convolutional networks for 32×32 colour data; this is the measurement behind that choice. One run
per (networks, width, learning rate): 100 labels, the stage's schedule and averaging, one thread,
the averaged D's test error with the stage's evaluation.

    python benchmarks/gan_fm_nets.py                                   # both nets, width 0.25, 96 steps
    python benchmarks/gan_fm_nets.py --nets improved-gan-mlp --width 1 --lr 3e-4 3e-3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from ali_bench.data.images import load_split
from ali_bench.nets.improved_gan import GAN_FM_NETS
from ali_bench.semisup.evaluate import headline
from ali_bench.semisup.settings import SemisupSettings
from ali_bench.semisup.train import train_semisup


def run(nets: str, width: float, lr: float, epochs: int, seed: int, train, test) -> tuple[float, float]:
    """(test error of the averaged D, wall seconds) of one gan-fm run on digits."""
    settings = SemisupSettings(
        "digits", 100, seed, epochs, 100, lr, 0.5, 1 / 3, 0.9999, width, "code", "gan-fm", gan_fm_nets=nets
    )
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        start = time.perf_counter()
        result = train_semisup(
            settings,
            train,
            train,
            test,
            out / "r.json",
            out / "l.csv",
            out / "c.pt",
            torch.device("cpu"),
            progress=False,
        )
        return headline(result, "recomputed")["test_error_sampled"], time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="+", choices=GAN_FM_NETS, default=["improved-gan-conv", "improved-gan-mlp"])
    parser.add_argument("--width", type=float, nargs="+", default=[0.25])
    parser.add_argument("--lr", type=float, nargs="+", default=[3e-4])
    parser.add_argument("--epochs", type=int, default=8, help="12 steps each on digits (default 8: 96 steps)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train, test = (load_split("digits", split, root="data") for split in ("train", "test"))
    print("nets               width  lr       test error  wall")
    for nets in args.nets:
        for width in args.width:
            for lr in args.lr:
                error, wall = run(nets, width, lr, args.epochs, args.seed, train, test)
                print(f"{nets:<18} {width:<6} {lr:<8g} {100 * error:6.1f} %   {wall:5.1f} s", flush=True)


if __name__ == "__main__":
    main()
