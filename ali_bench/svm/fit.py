"""The L2-SVM protocol of the released ``experiments/semi_supervised_svhn.py`` (docs/paper-vs-code.md §5).

- Pool and validation: SVHN ``train`` [0, 63,257) and its last 10,000 examples.
- Each SVM trains on 1,000 class-balanced examples, 100 per digit, taken by walking a freshly
  shuffled pass over the pool (``sampling="random"`` takes 1,000 purely random ones instead, the
  paper's wording).
- scikit-learn ``LinearSVC(C)`` with its defaults (squared hinge = L2-SVM, one-vs-rest), no feature
  scaling. C is chosen among exp(linspace(-20, 20, 50)) by the validation error of one SVM per C.
- Then 100 SVMs, each on a fresh balanced set, each scored on the whole test set: mean and
  population std (numpy's) of their test errors.

Speed and memory: the feature matrices are memory-mapped .npy files, never loaded whole. Fits run
in worker processes that each map the files themselves (only row indices cross the process
boundary); scoring multiplies one chunk of rows at a time by the stacked weights of every SVM, so
the test matrix is read once for all 100 SVMs.

Why one file over 300 lines: the protocol (pools, C search, the 100 SVMs) and its memory-mapped,
parallel execution are one procedure, read top to bottom against the released script.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from ali_bench.config import ConfigError
from ali_bench.seeding import seed_for

C_SELECTION, SVM_SETS, SVM_FITS = 20, 21, 22


def c_grid(log_low: float = -20.0, log_high: float = 20.0, n: int = 50) -> np.ndarray:
    """C = exp(log C) for log C in linspace(log_low, log_high, n): the released code's grid."""
    return np.exp(np.linspace(log_low, log_high, n))


@dataclass(frozen=True)
class FeatureRows:
    """Rows [start, stop) of a float32 .npy feature file, with their labels."""

    path: str
    labels: np.ndarray
    start: int = 0
    stop: int | None = None

    @property
    def rows(self) -> range:
        stop = self.stop if self.stop is not None else self.start + len(self.labels)
        return range(self.start, stop)


@functools.lru_cache(maxsize=8)
def _mapped(path: str) -> np.ndarray:
    return np.load(path, mmap_mode="r")


class FeatureFileError(ValueError):
    """Feature and label files that cannot describe the same examples; the message names both files."""


def check_feature_files(splits: dict[str, tuple[str | Path, str | Path]], chunk: int = 8192) -> int:
    """Before any fit: every split's features have one row per label, only finite values, and one
    feature dimension shared by all splits. Returns that dimension.

    Why: a feature file a few rows short would be scored against the full label count (a wrong error
    with exit 0), and NaN features give a confident-looking error near chance. ``splits`` maps a
    split name to its (features .npy, labels .npy) paths; features are read memory-mapped, chunk by chunk.
    """
    dims: dict[str, tuple[str, int]] = {}
    for name, (features_path, labels_path) in splits.items():
        try:
            features = np.load(features_path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as error:  # empty: EOFError; truncated: ValueError from mmap
            raise FeatureFileError(
                f"{name} features '{features_path}' cannot be read as a .npy array ({error}): "
                "rerun the features job that wrote it"
            ) from None
        n_labels = len(check_labels(name, labels_path))
        if features.ndim != 2:
            raise FeatureFileError(
                f"{name} features '{features_path}' have shape {features.shape}; expected (rows, dimensions)"
            )
        if len(features) != n_labels:
            raise FeatureFileError(
                f"{name} features '{features_path}' have {len(features):,} rows but labels "
                f"'{labels_path}' have {n_labels:,}; expected one row per label"
            )
        for start in range(0, len(features), chunk):
            block = np.asarray(features[start : start + chunk])
            if not np.isfinite(block).all():
                bad = start + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
                raise FeatureFileError(
                    f"{name} features '{features_path}' hold a non-finite value in row {bad:,}; "
                    "expected finite features (was the model diverged?)"
                )
        dims[name] = (str(features_path), features.shape[1])
    (first, (first_path, first_dim)), *others = dims.items()
    for name, (path, dim) in others:
        if dim != first_dim:
            raise FeatureFileError(
                f"{first} features '{first_path}' have {first_dim:,} dimensions but {name} features "
                f"'{path}' have {dim:,}; expected the same feature set in every split"
            )
    return first_dim


def check_labels(name: str, path: str | Path) -> np.ndarray:
    """A split's labels as one integer class per row; anything else is one line naming the file.

    Why: float labels (1.5) would each be a class of their own, a (N, 2) array would be read as
    N labels of pairs, and an empty file divides by zero; each gives an error rate, not an error."""
    try:
        labels = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise FeatureFileError(f"{name} labels '{path}' cannot be read as a .npy array ({error})") from None
    if labels.ndim != 1:
        raise FeatureFileError(
            f"{name} labels '{path}' have shape {labels.shape}; expected one class per row (a 1-D array)"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise FeatureFileError(f"{name} labels '{path}' are {labels.dtype}; expected integer class labels")
    if len(labels) == 0:
        raise FeatureFileError(f"{name} labels '{path}' are empty; expected at least one labelled example")
    if labels.min() < 0:
        raise FeatureFileError(f"{name} labels '{path}' hold class {int(labels.min())}; expected classes 0, 1, 2, ...")
    return labels


def check_classes(
    pool: FeatureRows,
    others: dict[str, tuple[FeatureRows, str | Path]],
    pool_path: str | Path,
    per_class: int,
    sampling: str,
    key: str,
) -> None:
    """Every class scored is one the SVMs can learn, and the pool holds the training sets asked for.

    ``others``: the validation and test rows with their labels' paths. ``key``: the config key that
    sets ``per_class``, named when the pool is too small (before, a traceback from the sampler)."""
    classes, counts = np.unique(pool.labels, return_counts=True)
    if len(classes) < 2:
        raise FeatureFileError(
            f"the training pool of '{pool_path}' holds only class {classes.tolist()}; expected two or more"
        )
    for name, (rows, path) in others.items():
        unknown = np.setdiff1d(np.unique(rows.labels), classes)
        if len(unknown):
            raise FeatureFileError(
                f"{name} labels '{path}' hold class {int(unknown[0])}, of which the training pool "
                f"'{pool_path}' has no example; expected the pool's classes {classes.tolist()}"
            )
    for name, (rows, path) in others.items():  # a stray training label would be blamed on the config below
        absent = np.setdiff1d(classes, np.unique(rows.labels))
        if len(absent):
            n = int(counts[np.searchsorted(classes, absent[0])])
            raise FeatureFileError(
                f"training labels '{pool_path}' hold class {int(absent[0])} ({n:,} example{'s' if n != 1 else ''}), "
                f"which the {name} labels '{path}' never hold; expected the same classes in every split"
            )
    if sampling == "balanced" and counts.min() < per_class:
        smallest = int(np.argmin(counts))
        raise ConfigError(
            f"config key '{key}': {per_class} examples per class, but class {int(classes[smallest])} "
            f"has {int(counts[smallest]):,} in the training pool of '{pool_path}'; expected at most "
            f"{int(counts.min()):,}"
        )
    if sampling == "random" and per_class * len(classes) > len(pool.labels):
        raise ConfigError(
            f"config key '{key}': {per_class} per class is {per_class * len(classes):,} examples, but "
            f"the training pool of '{pool_path}' has {len(pool.labels):,}; expected at most "
            f"{len(pool.labels) // len(classes):,} per class"
        )


def balanced_indices(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Walk one shuffled pass over ``labels``; keep the first ``per_class`` examples of each class.

    Returns positions into ``labels``, in walk order.
    """
    order = rng.permutation(len(labels))
    walked = labels[order]
    rank = np.empty(len(order), dtype=np.int64)  # how many of its class the walk has met before
    for cls in np.unique(labels):
        where = walked == cls
        if where.sum() < per_class:
            raise ValueError(f"class {cls} has {where.sum()} examples in the pool, fewer than {per_class}")
        rank[where] = np.arange(where.sum())
    return order[rank < per_class]


def training_set(pool: FeatureRows, per_class: int, sampling: str, seed: int, index: int) -> np.ndarray:
    """Row positions (into the pool) of SVM ``index``'s training set; a pure function of (seed, index)."""
    rng = np.random.default_rng(seed_for(seed, SVM_SETS, index))
    if sampling == "balanced":
        return balanced_indices(pool.labels, per_class, rng)
    if sampling == "random":
        n_classes = len(np.unique(pool.labels))
        return np.sort(rng.choice(len(pool.labels), size=per_class * n_classes, replace=False))
    raise ValueError(f"unknown sampling {sampling!r}; expected balanced or random")


def _fit(
    path: str, rows: np.ndarray, labels: np.ndarray, C: float, random_state: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Fit one LinearSVC on the given rows (read in the worker); return its weights, classes, convergence.

    ``random_state`` seeds liblinear's coordinate order; left unset, scikit-learn would draw it from
    numpy's global RNG and the same seed would not give the same numbers twice.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    order = np.argsort(rows)  # memmap reads are fastest in file order
    x = np.asarray(_mapped(path)[rows[order]], dtype=np.float64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        svm = LinearSVC(C=C, random_state=random_state).fit(x, labels[order])
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return svm.coef_.astype(np.float32), svm.intercept_.astype(np.float32), svm.classes_, converged


def fit_many(pool: FeatureRows, sets: list[np.ndarray], cs: list[float], parallel: Parallel, seed: int) -> list[tuple]:
    """One LinearSVC per (training set, C), on ``parallel``'s worker processes; fit i seeded by (seed, i)."""
    base = np.asarray(pool.rows)
    return parallel(
        delayed(_fit)(pool.path, base[positions], pool.labels[positions], float(C), seed_for(seed, SVM_FITS, i) % 2**31)
        for i, (positions, C) in enumerate(zip(sets, cs, strict=True))
    )


def error_rates(split: FeatureRows, svms: list[tuple], chunk: int = 4096) -> np.ndarray:
    """Each SVM's error rate on every row of ``split``, reading the feature file once, chunk by chunk."""
    weights = np.concatenate([w for w, _, _, _ in svms], axis=0).T  # (D, sum of per-SVM outputs)
    biases = np.concatenate([b for _, b, _, _ in svms])
    sizes = [len(b) for _, b, _, _ in svms]
    bounds = np.cumsum([0, *sizes])
    wrong = np.zeros(len(svms), dtype=np.int64)
    features, rows = _mapped(split.path), split.rows
    for start in range(0, len(rows), chunk):
        x = np.asarray(features[rows.start + start : rows.start + min(start + chunk, len(rows))], dtype=np.float32)
        scores = x @ weights + biases
        truth = split.labels[start : start + len(x)]
        for i, (_, _, classes, _) in enumerate(svms):
            block = scores[:, bounds[i] : bounds[i + 1]]
            predicted = classes[(block[:, 0] > 0).astype(int)] if block.shape[1] == 1 else classes[block.argmax(1)]
            wrong[i] += int((predicted != truth).sum())
    return wrong / len(rows)


@dataclass(frozen=True)
class SvmResult:
    chosen_c: float
    validation_errors: np.ndarray  # one per C of the grid
    test_errors: np.ndarray  # one per SVM
    unconverged: int  # fits that hit LinearSVC's iteration cap (its default; the released code's too)

    @property
    def validation_error(self) -> float:
        return float(self.validation_errors.min())


def run(
    pool: FeatureRows,
    valid: FeatureRows,
    test: FeatureRows,
    *,
    per_class: int,
    sampling: str,
    n_svms: int,
    grid: np.ndarray,
    seed: int,
    n_jobs: int,
    progress=None,
) -> SvmResult:
    """Choose C on the validation rows, then fit ``n_svms`` SVMs and score each on the test rows."""
    selection_set = training_set(pool, per_class, sampling, seed_for(seed, C_SELECTION), 0)
    with Parallel(n_jobs=n_jobs) as parallel:  # one pool of workers for both stages
        selection = fit_many(pool, [selection_set] * len(grid), list(grid), parallel, seed_for(seed, C_SELECTION))
        validation = error_rates(valid, selection)
        chosen = float(grid[int(np.argmin(validation))])  # the first (smallest) C among ties
        if progress:
            progress(f"chose C = {chosen:.4g} (log C = {np.log(chosen):.3f}), validation error {validation.min():.4f}")
        sets = [training_set(pool, per_class, sampling, seed, i) for i in range(n_svms)]
        svms = fit_many(pool, sets, [chosen] * n_svms, parallel, seed)
    tests = error_rates(test, svms)
    unconverged = sum(not ok for *_, ok in selection + svms)
    return SvmResult(chosen, validation, tests, unconverged)


def write_errors(path: str | Path, result: SvmResult, grid: np.ndarray) -> None:
    """Every number behind a table row: the validation error per C and the test error per SVM."""
    import pandas as pd

    from ali_bench.tables import write_csv

    rows = [
        {"kind": "validation", "index": i, "C": float(c), "error": float(e)}
        for i, (c, e) in enumerate(zip(grid, result.validation_errors, strict=True))
    ]
    rows += [
        {"kind": "test", "index": i, "C": result.chosen_c, "error": float(e)} for i, e in enumerate(result.test_errors)
    ]
    write_csv(pd.DataFrame(rows), path)
