"""Every method on the same held-out data, encoder noise and prior draws: the table's numbers and the figure's points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import nn

from ali_bench.config import BatchNormConfig, InferenceConfig, ToyConfig
from ali_bench.data.mixture import GridMixture, train_and_test
from ali_bench.seeding import generator_for
from ali_bench.toy.metrics import assign_components, mode_coverage
from ali_bench.toy_inference.methods import INFERENCE_EVAL, METHOD_TITLES, METHODS
from ali_bench.toy_inference.train import check_method, load_method, load_run


def mmd_rbf(a: np.ndarray, b: np.ndarray, bandwidth: float) -> float:
    """Unbiased MMD² between samples ``a`` and ``b`` with the kernel exp(-|u-v|² / (2 h²))."""

    def kernel(u, v):
        return np.exp(-((u[:, None, :] - v[None, :, :]) ** 2).sum(-1) / (2 * bandwidth**2))

    k_aa, k_bb, k_ab = kernel(a, a), kernel(b, b), kernel(a, b)
    n, m = len(a), len(b)
    return float(
        (k_aa.sum() - np.trace(k_aa)) / (n * (n - 1)) + (k_bb.sum() - np.trace(k_bb)) / (m * (m - 1)) - 2 * k_ab.mean()
    )


def ks_to_standard_normal(z: np.ndarray) -> float:
    """The largest per-dimension Kolmogorov–Smirnov statistic of ``z`` against N(0, 1)."""
    return float(max(stats.kstest(z[:, d], "norm").statistic for d in range(z.shape[1])))


@torch.no_grad()
def method_outputs(
    method: str, model: nn.Module, x: np.ndarray, eps: np.ndarray, z_prior: np.ndarray
) -> dict[str, np.ndarray]:
    """ẑ ~ q(z|x), its reconstruction, and generator samples from the prior draws."""
    xt, et, zt = (torch.from_numpy(a).float() for a in (x, eps, z_prior))
    z_hat = model.encode(xt, et)
    return {"z_hat": z_hat.numpy(), "x_rec": model.decoder(z_hat).numpy(), "x_gen": model.decoder(zt).numpy()}


def evaluate(
    toy: ToyConfig,
    settings: InferenceConfig,
    selection: dict,
    ali_models: str | Path,
    gan_models: str | Path,
    method_paths: dict[str, str | Path],
    bn: BatchNormConfig,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], list[dict]]:
    """Every method on the same held-out data, encoder noise and prior draws: table rows + arrays.

    ``bn.statistics`` names the batch-norm statistics every model is evaluated with. Every file is
    checked against this config first (``check_method``, ``toy.train.check_trained_with``).
    """
    statistics = bn.statistics
    mixture, _, (x_test, components) = train_and_test(toy.mixture)
    generator = generator_for(settings.seed, INFERENCE_EVAL)
    eps = torch.randn(len(x_test), toy.network.latent_dim, generator=generator).numpy()
    z_prior = torch.randn(toy.coverage.n_samples, toy.network.latent_dim, generator=generator).numpy()
    _, ali = load_run(ali_models, selection["ali"]["run"], toy, bn)
    _, gan = load_run(gan_models, selection["gan"]["run"], toy, bn)
    models: dict[str, nn.Module] = {"ali": ali}
    trainings = []
    for method in METHODS[1:]:
        if method in method_paths:
            payload, models[method] = load_method(
                method_paths[method], toy, settings, gan.decoder.state_dict(), statistics
            )
            check_method(method_paths[method], payload, toy, settings, selection, bn)
            trainings.append(
                {"method": method, "device": payload["device"], "wall_time_s": round(payload["wall_time_s"], 3)}
            )
    arrays = {"x": x_test, "components": components, "z_prior": z_prior}
    rows = []
    for method, model in models.items():
        out = method_outputs(method, model, x_test, eps, z_prior)
        arrays.update({f"{method}/{key}": value for key, value in out.items()})
        rows.append(_metrics(method, out, x_test, components, mixture, toy, settings))
    return pd.DataFrame(rows), arrays, trainings


def _metrics(method, out, x, components, mixture: GridMixture, toy: ToyConfig, settings: InferenceConfig) -> dict:
    n = settings.mmd_samples
    coverage = mode_coverage(out["x_gen"], mixture, toy.coverage.high_quality_stds)
    finite = np.isfinite(out["x_rec"]).all(axis=1)
    same_mode = np.zeros(len(x), dtype=bool)
    same_mode[finite] = assign_components(out["x_rec"][finite], mixture) == components[finite]
    return {
        "method": method,
        "title": METHOD_TITLES[method],
        "modes": coverage.modes,
        "modes_high_quality": coverage.modes_high_quality,
        "high_quality_share": coverage.high_quality_share,
        "reconstruction_mse": float(np.mean(((out["x_rec"] - x) ** 2).sum(-1))),
        "same_mode_share": float(same_mode.mean()),
        "qz_mmd2": mmd_rbf(
            out["z_hat"][:n],
            np.random.default_rng(settings.seed).standard_normal((n, out["z_hat"].shape[1])),
            settings.mmd_bandwidth,
        ),
        "qz_ks_max": ks_to_standard_normal(out["z_hat"]),
    }
