"""q(x) of the toy experiment: a 2-D Gaussian mixture with one component per grid point.

docs/paper-vs-code.md §8: means on {-4,-2,0,2,4}², isotropic std 0.05, equal weights, 100,000 training samples
drawn with seed 1 (Fuel's default). The released code's "valid" stream reused the training seed, so
its held-out set equalled the training set; here the held-out set has its own seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ali_bench.config import MixtureConfig


@dataclass(frozen=True)
class GridMixture:
    """Equal-weight isotropic Gaussian mixture; ``means`` is (K, 2), row-major over the grid."""

    means: np.ndarray  # (K, 2)
    std: float

    @classmethod
    def from_config(cls, cfg: MixtureConfig) -> "GridMixture":
        grid = np.asarray(cfg.grid, dtype=np.float64)
        xs, ys = np.meshgrid(grid, grid, indexing="ij")
        return cls(means=np.stack([xs.ravel(), ys.ravel()], axis=1), std=float(cfg.std))

    @property
    def n_components(self) -> int:
        return len(self.means)

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` points: returns x (n, 2) float32 and their component index (n,) int64."""
        rng = np.random.default_rng(seed)
        components = rng.integers(0, self.n_components, size=n)
        noise = rng.standard_normal((n, 2))
        x = self.means[components] + self.std * noise
        return x.astype(np.float32), components.astype(np.int64)

    def log_responsibilities(self, x: np.ndarray) -> np.ndarray:
        """Unnormalised log q(k | x) for each point and component, (n, K).

        With equal weights and one shared isotropic covariance this is -|x - mu_k|² / (2 std²) up to a
        constant, so the argmax is the nearest mean.
        """
        x = np.asarray(x, dtype=np.float64)
        sq_dist = ((x[:, None, :] - self.means[None, :, :]) ** 2).sum(-1)
        return -sq_dist / (2.0 * self.std**2) - np.log(self.n_components)


def train_and_test(cfg: MixtureConfig) -> tuple[GridMixture, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The mixture, its training set (seed ``train_seed``) and its held-out set (``test_seed``)."""
    if cfg.train_seed == cfg.test_seed:
        raise ValueError("config keys 'toy.mixture.train_seed' and 'test_seed' must differ (held-out data)")
    mixture = GridMixture.from_config(cfg)
    return mixture, mixture.sample(cfg.n_train, cfg.train_seed), mixture.sample(cfg.n_test, cfg.test_seed)
