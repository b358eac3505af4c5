"""Which embedding of y makes the conditional digits model condition: each ``conditional.embedding``
mode trained on the embedded digits with the harness's own trainer, its label agreement and
variation ratio (``ali_bench/conditional/metrics.py``) measured along the way.

Each mode trains one model for the longest length given and is measured at every length listed,
with batch-norm statistics recomputed for the weights of that moment (as the figure job does). One
process per mode, so the modes train side by side on separate cores.

    python benchmarks/conditional_embeddings.py --steps 600 1200 1800 2400 --out /tmp/conditional.csv
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import time

import pandas as pd


def measure(mode: str, steps: list[int], width: float, lr: float, batch: int, seed: int) -> list[dict]:
    import torch

    from ali_bench import batchnorm
    from ali_bench.conditional.metrics import class_conditioning
    from ali_bench.config import load_config
    from ali_bench.data.images import load_split
    from ali_bench.images.train import EPOCH_ORDER, Conditioning, make_trainer, recomputed_statistics
    from ali_bench.nets.conditional import condition_vectors
    from ali_bench.seeding import generator_for

    torch.set_num_threads(1)
    cfg = load_config(
        {
            "conditional": {"embedding": mode, "digits": {"width": width, "lr": lr, "batch_size": batch}},
            "images": {"seed": seed},
        }
    )
    train, valid = load_split("digits", "train", "data"), load_split("digits", "valid", "data")
    trainer = make_trainer(
        "digits", cfg.images, train, torch.device("cpu"), False, Conditioning(cfg.conditional.run("digits"), mode)
    )
    data, conditions = train.images, condition_vectors("digits", train.labels)
    per_epoch = len(data) // batch
    rows, done, epoch, started = [], 0, 0, time.perf_counter()
    while done < max(steps):
        order = torch.randperm(len(data), generator=generator_for(cfg.images.seed, EPOCH_ORDER, epoch))
        for k in range(per_epoch):
            picked = order[k * batch : (k + 1) * batch]
            trainer.step(data[picked], conditions[picked])
            done += 1
            if done in steps:
                model = copy.deepcopy(trainer.model)
                stats = recomputed_statistics(model, data, conditions, cfg.batchnorm, cfg.images.seed, False)
                model.load_state_dict(batchnorm.with_statistics(model.state_dict(), stats, "recomputed"))
                metrics = class_conditioning(model.eval(), train, valid, seed)
                rows.append(
                    {
                        "embedding": mode,
                        "steps": done,
                        "label_agreement": metrics["label_agreement"],
                        "conditions_to_z_ratio": metrics["conditions_to_z_ratio"],
                        "train_s": round(time.perf_counter() - started, 1),
                    }
                )
                print(rows[-1], flush=True)
            if done >= max(steps):
                break
        epoch += 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["frozen", "trained", "separate"])
    parser.add_argument("--steps", type=int, nargs="+", default=[600, 1200, 1800, 2400])
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    jobs = [(mode, sorted(args.steps), args.width, args.lr, args.batch, args.seed) for mode in args.modes]
    with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
        rows = [row for result in pool.starmap(measure, jobs) for row in result]
    table = pd.DataFrame(rows)
    table.to_csv(args.out, index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
