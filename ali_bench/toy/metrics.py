"""Mode coverage of generated samples, the paper's count and the later papers' quality-aware one.

Paper (§4.5): each of 10,000 p(x) samples is assigned to the q(x) component of highest
responsibility; a mode is dropped when no sample is assigned to it.
Later papers (VEEGAN, PacGAN): a sample is "high quality" when it lies within 3 std of its assigned
mean; they count modes over high-quality samples and report the reverse KL between the histogram
of high-quality samples over modes and the uniform histogram.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ali_bench.data.mixture import GridMixture


@dataclass(frozen=True)
class Coverage:
    modes: int  # modes with >= 1 sample assigned (the paper's definition)
    high_quality_share: float  # share of samples within `high_quality_stds` std of their mean
    modes_high_quality: int  # modes with >= 1 high-quality sample
    reverse_kl: float  # KL(high-quality mode histogram || uniform), nats; inf when none is high quality
    finite_share: float  # share of samples that are finite (a diverged generator emits NaN/inf)


def assign_components(points: np.ndarray, mixture: GridMixture) -> np.ndarray:
    """The component of highest responsibility for each (finite) point, (n,) int."""
    return mixture.log_responsibilities(points).argmax(axis=1)


def mode_coverage(samples: np.ndarray, mixture: GridMixture, high_quality_stds: float = 3.0) -> Coverage:
    """Coverage statistics of ``samples`` (n, 2) against ``mixture``; non-finite samples count as misses."""
    samples = np.asarray(samples, dtype=np.float64)
    n = len(samples)
    finite = np.isfinite(samples).all(axis=1)
    good = samples[finite]
    k = mixture.n_components
    if len(good) == 0:
        return Coverage(0, 0.0, 0, float("inf"), 0.0)
    assigned = assign_components(good, mixture)
    distance = np.linalg.norm(good - mixture.means[assigned], axis=1)
    high_quality = distance <= high_quality_stds * mixture.std
    hq_counts = np.bincount(assigned[high_quality], minlength=k)
    return Coverage(
        modes=int(np.count_nonzero(np.bincount(assigned, minlength=k))),
        high_quality_share=float(high_quality.sum() / n),
        modes_high_quality=int(np.count_nonzero(hq_counts)),
        reverse_kl=reverse_kl_to_uniform(hq_counts),
        finite_share=float(finite.mean()),
    )


def reverse_kl_to_uniform(counts: np.ndarray) -> float:
    """KL(p || uniform) for the histogram ``counts`` over K modes, in nats (0 log 0 = 0)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total == 0:
        return float("inf")
    p = counts[counts > 0] / total
    return float(np.sum(p * np.log(p * len(counts))))
