"""How far one machine's quick digits ALI is from another's: the quick run's digits ALI
(``config/quick.yaml``'s settings, read from the file) trained once per seed on one thread through
the real code path, and its reconstructions' label agreement measured as the figure job does it
(``reconstruction_metrics``, batch-norm statistics recomputed), on the validation split and, for a
second look with six times the images, on the training split.

Why: the learning test (``tests/images/test_learning_images.py``) trains seed 0 once, and a seeded CPU run
is one draw from the spread of seeds and of CPUs (another CPU's kernels round differently and
adversarial training amplifies it), so its threshold has to come from that spread. One process per
seed, so seeds train side by side on separate cores.

    python benchmarks/digits_label_agreement.py --seeds 0 1 2 3 4 --out /tmp/label_agreement.csv
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path

import pandas as pd

QUICK = Path(__file__).resolve().parents[1] / "config" / "quick.yaml"


def cpu_name() -> str:
    """The CPU's model name (the kernels a seeded run takes depend on it)."""
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def measure(seed: int) -> dict:
    import torch
    import yaml

    from ali_bench.config import load_config
    from ali_bench.data.images import load_split
    from ali_bench.images import figures
    from ali_bench.images import train as image_train

    torch.set_num_threads(1)
    quick = yaml.safe_load(QUICK.read_text())
    cfg = load_config({"device": "cpu", "images": {**quick["images"], "seed": seed}})
    train, valid = load_split("digits", "train", "unused"), load_split("digits", "valid", "unused")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        image_train.train_images(
            "digits",
            cfg.images,
            train,
            out / "m.pt",
            out / "l.csv",
            out / "c.pt",
            torch.device("cpu"),
            "cpu",
            progress=False,
            bn=cfg.batchnorm,
        )
        _, model = image_train.load_model(out / "m.pt", statistics="recomputed")
    on_valid = figures.reconstruction_metrics(model, valid, seed, train)
    on_train = figures.reconstruction_metrics(model, train, seed, train)
    return {
        "seed": seed,
        "cpu": cpu_name(),
        "kernels": torch.backends.cpu.get_cpu_capability(),
        "valid_label_agreement": on_valid["label_agreement"],
        "valid_images": on_valid["validation_images"],
        "train_label_agreement": on_train["label_agreement"],
        "train_images": on_train["validation_images"],
        "valid_mse": on_valid["mse"],
        "seconds": round(time.perf_counter() - start, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
        rows = pool.map(measure, args.seeds)
    table = pd.DataFrame(rows)
    table.to_csv(args.out, index=False)
    print(table.to_string(index=False))
    print(
        f"valid label agreement: mean {table.valid_label_agreement.mean():.3f}, min {table.valid_label_agreement.min():.3f}"
    )


if __name__ == "__main__":
    main()
