"""The SVHN L2-SVM protocol at SVHN's true sizes on synthetic features: wall time and peak memory.

Writes class-structured random features of SVHN's shapes (train 73,257 × 8,960, test 26,032 × 8,960,
float32 .npy, 3.5 GB together) to a scratch folder, then runs exactly what the `svm` rule runs:
50 fits to choose C, 100 fits on fresh balanced 1,000-example sets, every SVM scored on the full
test set. Peak memory is the largest resident set of this process plus its worker processes,
sampled every 0.2 s (the two feature files are 3.5 GB; the target is that neither is ever copied
into memory whole).

    python benchmarks/svm_benchmark.py --scratch /tmp/svm-bench
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

import numpy as np

from ali_bench.svm import fit as svm

TRAIN, TEST, DIM, CLASSES = 73_257, 26_032, 8_960, 10


def write_features(path: Path, n: int, means: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, DIM))
    for start in range(0, n, 4096):
        y = labels[start : start + 4096]
        out[start : start + len(y)] = rng.standard_normal((len(y), DIM), dtype=np.float32) + means[y]
    out.flush()
    del out
    return labels


def _rss_kb(pid: int, field: str) -> int:
    """A /proc/<pid>/status field in kB: VmRSS (all resident pages), RssAnon (private memory only;
    mapped file pages of the memory-mapped features count in VmRSS but are page cache, not copies)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            pids += _tree(int(child))
    return pids


class PeakMemory(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.peak_kb, self.peak_anon_kb, self.running = 0, 0, True

    def run(self) -> None:
        while self.running:
            pids = _tree(os.getpid())
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(p, "VmRSS") for p in pids))
            self.peak_anon_kb = max(self.peak_anon_kb, sum(_rss_kb(p, "RssAnon") for p in pids))
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/ali-bench-svm"))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--n-svms", type=int, default=100)
    parser.add_argument("--n-c", type=int, default=50)
    args = parser.parse_args()
    args.scratch.mkdir(parents=True, exist_ok=True)
    means = np.random.default_rng(0).normal(0, 0.05, (CLASSES, DIM)).astype(np.float32)
    train_path, test_path = args.scratch / "train.npy", args.scratch / "test.npy"
    started = time.perf_counter()
    train_labels = write_features(train_path, TRAIN, means, 1)
    test_labels = write_features(test_path, TEST, means, 2)
    print(f"wrote synthetic features in {time.perf_counter() - started:.0f} s")

    cut = TRAIN - 10_000
    pool = svm.FeatureRows(str(train_path), train_labels[:cut], 0, cut)
    valid = svm.FeatureRows(str(train_path), train_labels[cut:], cut, TRAIN)
    test = svm.FeatureRows(str(test_path), test_labels)
    monitor = PeakMemory()
    monitor.start()
    started = time.perf_counter()
    result = svm.run(
        pool,
        valid,
        test,
        per_class=100,
        sampling="balanced",
        n_svms=args.n_svms,
        grid=svm.c_grid(n=args.n_c),
        seed=0,
        n_jobs=args.n_jobs,
        progress=print,
    )
    wall = time.perf_counter() - started
    monitor.running = False
    monitor.join()
    fits = args.n_c + args.n_svms
    print(
        f"{fits} fits + scoring: {wall:.0f} s ({wall / 60:.1f} min) with {args.n_jobs} worker processes on {os.cpu_count()} cores"
    )
    print(
        f"test error {100 * result.test_errors.mean():.2f} ± {100 * result.test_errors.std():.2f} %, "
        f"{result.unconverged} fits hit the iteration cap"
    )
    print(
        f"peak memory (process + workers): private {monitor.peak_anon_kb / 2**20:.2f} GiB, resident incl. mapped "
        f"file pages {monitor.peak_kb / 2**20:.2f} GiB; feature files: "
        f"{(train_path.stat().st_size + test_path.stat().st_size) / 2**30:.2f} GiB"
    )


if __name__ == "__main__":
    main()
