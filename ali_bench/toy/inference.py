"""The toy inference comparison (paper Sec. 4.5, Fig. 8): how well does each model infer z from x?

(a) ALI, the best-covering run; (b) the best-covering GAN run + an encoder trained to invert its
generator (learned inverse mapping); (c) the same GAN + an encoder and a new (x, z) discriminator
trained with the ALI objective, its decoder frozen (post-hoc learned inference); (d) a VAE with the
same encoder and decoder architectures. The paper published no setting for (b)-(d): every one is in
the config's ``toy_inference`` section.

Batch norm: every model is evaluated with the statistics the config's ``batchnorm.statistics`` names.
The frozen GAN decoder of (b) and (c) carries those statistics from training to evaluation (it is
the generator being inverted); the networks (b)-(d) train get theirs recomputed when training ends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import nn

from ali_bench import batchnorm, checkpoint, trained_with
from ali_bench.config import BatchNormConfig, InferenceConfig, ToyConfig, as_dict, config_hash
from ali_bench.data.mixture import GridMixture, train_and_test
from ali_bench.nets.toy import TOY_MODELS, PostHocALI, ToyGAN, ToyVAE, build_mlp, generator_mlp, init_weights_, DATA_DIM
from ali_bench.objectives import inverse_mapping_loss, vae_negative_elbo
from ali_bench.resumable import run_epochs
from ali_bench.toy.batched import unstack_state_dict
from ali_bench.toy.metrics import assign_components, mode_coverage
from ali_bench.seeding import generator_for
from ali_bench.toy.train import load_models, write_log
from ali_bench.training import MONITORS, adversarial_step

METHODS = ("ali", "inverse", "posthoc", "vae")
METHOD_TITLES = {
    "ali": "(a) ALI",
    "inverse": "(b) GAN + learned inverse mapping",
    "posthoc": "(c) GAN + post-hoc learned inference",
    "vae": "(d) VAE",
}
INFERENCE, INFERENCE_EVAL, INFERENCE_BATCHNORM = 5, 6, 7
METHOD_CODES = {"inverse": 0, "posthoc": 1, "vae": 2}
MODEL_FORMAT = "ali-bench/toy-inference-model/2"  # 2: recomputed batch-norm statistics under "bn_recomputed"
LOG_COLUMNS = ("epoch", "method", "loss", *MONITORS, "wall_time_s")


# --------------------------------------------------------------------------------------------------
# which runs


def select_best(coverage: pd.DataFrame, hyperparameter_set: str) -> dict:
    """The best-covering ALI and GAN runs of one hyperparameter set.

    Most modes first; ties broken by the larger high-quality share, then by the smaller seed.
    """
    chosen = {}
    for model in ("ali", "gan"):
        runs = coverage[(coverage["model"] == model) & (coverage["hyperparameter_set"] == hyperparameter_set)]
        if runs.empty:
            raise ValueError(f"coverage has no {model} run of the {hyperparameter_set!r} hyperparameter set")
        best = runs.sort_values(["modes", "high_quality_share", "seed"], ascending=[False, False, True]).iloc[0]
        chosen[model] = {
            "run": f"{model}-{hyperparameter_set}-seed{int(best['seed'])}", "seed": int(best["seed"]),
            "hyperparameter_set": hyperparameter_set, "modes": int(best["modes"]),
            "high_quality_share": float(best["high_quality_share"]),
        }
    chosen["rule"] = "most modes, then largest high-quality share, then smallest seed"
    return chosen


def load_run(models_path: str | Path, run_name: str, toy: ToyConfig, bn: BatchNormConfig) -> tuple[dict, ToyGAN]:
    """One run out of a batched models file, as a single model in eval mode, with the batch-norm
    statistics ``bn.statistics`` names (recomputed | running); a file trained with other settings
    than ``toy`` and ``bn`` is refused."""
    payload, batched = load_models(models_path, bn.statistics, toy=toy, bn=bn)
    kind = run_name.split("-")[0]
    index = payload["model_runs"][kind].index(run_name)
    model = TOY_MODELS[kind](batched[kind].net)
    model.load_state_dict(unstack_state_dict(batched[kind].state_dict(), index))
    return payload, model.float().eval()


# --------------------------------------------------------------------------------------------------
# the three trained methods


class InverseMapping(nn.Module):
    """An encoder of ALI's architecture (on concat(x, ε)) for a frozen GAN generator."""

    kind = "inverse"

    def __init__(self, toy: ToyConfig, decoder_state: dict[str, torch.Tensor]):
        super().__init__()
        net = toy.network
        self.encoder = build_mlp(generator_mlp(DATA_DIM + net.latent_dim, net.encoder_hidden, net.latent_dim), net, None)
        self.decoder = build_mlp(generator_mlp(net.latent_dim, net.decoder_hidden, DATA_DIM), net, None)
        self.decoder.load_state_dict(decoder_state)
        self.decoder.requires_grad_(False)

    def encode(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return self.encoder(torch.cat([x, eps], dim=-1))

    def train(self, mode: bool = True) -> "InverseMapping":
        super().train(mode)
        self.decoder.eval()
        return self


def build_method(method: str, toy: ToyConfig, settings: InferenceConfig, gan_decoder_state: dict) -> nn.Module:
    """The untrained model of ``method``, its new weights drawn from the inference seed."""
    if method == "inverse":
        model = InverseMapping(toy, gan_decoder_state)
        fresh = [model.encoder]
    elif method == "posthoc":
        model = PostHocALI(toy.network, gan_decoder_state)
        fresh = [model.encoder, model.discriminator]
    elif method == "vae":
        model = ToyVAE(toy.network)
        fresh = [model.encoder, model.decoder]
    else:
        raise ValueError(f"unknown inference method {method!r}; expected one of inverse, posthoc, vae")
    generator = generator_for(settings.seed, INFERENCE, METHOD_CODES[method])
    for module in fresh:
        init_weights_(module, settings.init_std, generator)
    return model


@dataclass
class MethodTrainer:
    """One method's model, optimisers and one-step function (returns the logged numbers)."""

    model: nn.Module
    optimizers: list[torch.optim.Optimizer]
    step: callable

    def state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        for opt, opt_state in zip(self.optimizers, state["optimizers"]):
            opt.load_state_dict(opt_state)


def make_trainer(method: str, model: nn.Module, settings: InferenceConfig, decoder_std: float) -> MethodTrainer:
    adam = partial(torch.optim.Adam, lr=settings.lr, betas=(settings.beta1, 0.999))
    if method == "posthoc":
        opt_d, opt_g = adam(model.discriminator_parameters()), adam(model.generator_parameters())

        def step(x, z, eps):
            loss_d, loss_g, d_data, d_sample = adversarial_step(model, opt_d, opt_g, x, z, eps)
            return {"loss": loss_g, "loss_d": loss_d, "loss_g": loss_g, "d_data": d_data, "d_sample": d_sample}

        return MethodTrainer(model, [opt_d, opt_g], step)

    opt = adam([p for p in model.parameters() if p.requires_grad])

    def step(x, z, eps):
        if method == "inverse":
            with torch.no_grad():
                x_gen = model.decoder(z)  # samples of the frozen generator
            loss = inverse_mapping_loss(z, model.encode(x_gen, eps))
        else:
            mu, log_sigma = model.posterior(x)
            x_rec = model.decoder(mu + log_sigma.exp() * eps)
            loss = vae_negative_elbo(x, x_rec, mu, log_sigma, decoder_std)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.detach()}  # a tensor: no device sync per step

    return MethodTrainer(model, [opt], step)


def recomputed_statistics(method: str, model: nn.Module, data: torch.Tensor, latent: int, settings: InferenceConfig,
                          batchnorm_settings: BatchNormConfig) -> dict[str, torch.Tensor]:
    """The batch-norm statistics of the trained networks of ``method``, the whole model's state entries.

    Each pass feeds the trained networks what a training step feeds them (the VAE: x, and ẑ to its
    decoder; post-hoc: (x, ε) to the encoder; inverse: (G_x(z), ε) to the encoder). Only the trained
    networks are recomputed: a frozen GAN decoder keeps the statistics it was loaded with. ``model``
    keeps its running averages.
    """
    device = next(model.parameters()).device

    def draws(k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        generator = generator_for(settings.seed, INFERENCE_BATCHNORM, METHOD_CODES[method], k)
        index = torch.randint(len(data), (batchnorm_settings.batch_size,), generator=generator)
        z = torch.randn(batchnorm_settings.batch_size, latent, generator=generator)
        eps = torch.randn(batchnorm_settings.batch_size, latent, generator=generator)
        return data[index.to(device)], z.to(device), eps.to(device)

    def forward(k: int) -> None:
        x, z, eps = draws(k)
        if method == "vae":
            mu, log_sigma = model.posterior(x)
            model.decoder(mu + log_sigma.exp() * eps)
        elif method == "inverse":
            model.encode(model.decoder(z), eps)
        else:
            model.encode(x, eps)

    trained, prefix = (model, "") if method == "vae" else (model.encoder, "encoder.")
    recomputed = batchnorm.recompute_statistics(trained, forward, batchnorm_settings.batches)
    return {**batchnorm.statistics_state(model), **{prefix + key: value for key, value in recomputed.items()}}


def train_method(
    method: str, toy: ToyConfig, settings: InferenceConfig, selection: dict, gan_models: str | Path,
    out_path: str | Path, log_path: str | Path, checkpoint_path: str | Path, device: torch.device, device_label: str,
    batchnorm_settings: BatchNormConfig, progress: bool = True,
) -> dict:
    """Train one of inverse / posthoc / vae and write its model and per-epoch log.

    The epoch draws (data order, z, ε) are made on the CPU from the inference seed and moved to
    ``device``, as the toy trainer does, so a GPU run sees the same data as a CPU run. The selected
    GAN's decoder comes with the statistics ``batchnorm_settings.statistics`` names; the trained
    networks' statistics are recomputed at the end and stored beside their running averages.
    """
    _, gan = load_run(gan_models, selection["gan"]["run"], toy, batchnorm_settings)
    model = build_method(method, toy, settings, gan.decoder.state_dict()).to(device).train()
    trainer = make_trainer(method, model, settings, settings.vae_decoder_std)
    _, (x_train, _), _ = train_and_test(toy.mixture)
    data = torch.from_numpy(x_train).to(device)
    batch = settings.batch_size
    steps = len(data) // batch
    latent = toy.network.latent_dim

    def run_epoch(epoch: int) -> tuple[list[dict], dict]:
        generator = generator_for(settings.seed, INFERENCE, METHOD_CODES[method], epoch)
        order = torch.randperm(len(data), generator=generator).to(device)
        z = torch.randn(steps, batch, latent, generator=generator).to(device)
        eps = torch.randn(steps, batch, latent, generator=generator).to(device)
        totals: dict[str, torch.Tensor] = {}
        for step in range(steps):
            numbers = trainer.step(data[order[step * batch : (step + 1) * batch]], z[step], eps[step])
            for key, value in numbers.items():
                totals[key] = totals[key] + value if key in totals else value.clone()
        means = {key: value.item() / steps for key, value in totals.items()}
        return [{"epoch": epoch + 1, "method": method, **means}], {"loss": means["loss"]}

    # what the run trains against too: the frozen decoder's batch-norm statistics
    fingerprint = config_hash({"method": method, "toy": as_dict(toy), "settings": as_dict(settings), "selection": selection,
                               "decoder_statistics": batchnorm_settings.statistics})
    rows, wall = run_epochs(
        run_epoch, epochs=settings.epochs, checkpoint_path=checkpoint_path, checkpoint_every=1,
        fingerprint=fingerprint, get_state=trainer.state, set_state=trainer.load, desc=f"toy {method}", progress=progress,
        on_rows=partial(write_log, log_path, columns=LOG_COLUMNS),
    )
    payload = {
        "format": MODEL_FORMAT, "method": method, "state": {k: v.cpu() for k, v in model.state_dict().items()},
        "bn_recomputed": recomputed_statistics(method, model, data, latent, settings, batchnorm_settings),
        "batchnorm": as_dict(batchnorm_settings), "selection": selection,
        "settings": as_dict(settings), "toy": as_dict(toy), "epochs": settings.epochs, "device": device_label, "wall_time_s": wall,
    }
    checkpoint.save(out_path, payload)
    return payload


def check_method(path: str | Path, payload: dict, toy: ToyConfig, settings: InferenceConfig, selection: dict,
                 bn: BatchNormConfig) -> None:
    """Refuse a method file trained against other toy or inference settings, another GAN run, or
    another frozen-decoder BN choice than this evaluation's: one line naming the first difference."""
    if "toy" not in payload:
        raise checkpoint.CheckpointError(f"'{path}' does not record the toy settings it was trained with "
                                         "(written before they were stored): retrain it")
    select_from = settings.select_from
    trained = {"toy": trained_with.toy_training(payload["toy"], select_from),
               "toy_inference": trained_with.inference_training(payload["settings"]),
               "batchnorm": {**trained_with.batchnorm_training(payload["batchnorm"]), "statistics": payload["batchnorm"]["statistics"]},
               "selection": {kind: payload["selection"][kind]["run"] for kind in ("ali", "gan")}}
    asked = {"toy": trained_with.toy_training(as_dict(toy), select_from),
             "toy_inference": trained_with.inference_training(as_dict(settings)),
             "batchnorm": {**trained_with.batchnorm_training(as_dict(bn)), "statistics": bn.statistics},
             "selection": {kind: selection[kind]["run"] for kind in ("ali", "gan")}}
    trained_with.check(path, trained, asked)


def load_method(path: str | Path, toy: ToyConfig, settings: InferenceConfig, gan_decoder_state: dict,
                statistics: str) -> tuple[dict, nn.Module]:
    """A trained method in eval mode, with the ``statistics`` batch-norm statistics (recomputed | running)."""
    payload = checkpoint.load(path, MODEL_FORMAT)
    model = build_method(payload["method"], toy, settings, gan_decoder_state)
    model.load_state_dict(batchnorm.with_statistics(payload["state"], payload["bn_recomputed"], statistics))
    return payload, model.eval()


# --------------------------------------------------------------------------------------------------
# evaluation


def mmd_rbf(a: np.ndarray, b: np.ndarray, bandwidth: float) -> float:
    """Unbiased MMD² between samples ``a`` and ``b`` with the kernel exp(-|u-v|² / (2 h²))."""
    def kernel(u, v):
        return np.exp(-((u[:, None, :] - v[None, :, :]) ** 2).sum(-1) / (2 * bandwidth**2))

    k_aa, k_bb, k_ab = kernel(a, a), kernel(b, b), kernel(a, b)
    n, m = len(a), len(b)
    return float((k_aa.sum() - np.trace(k_aa)) / (n * (n - 1)) + (k_bb.sum() - np.trace(k_bb)) / (m * (m - 1)) - 2 * k_ab.mean())


def ks_to_standard_normal(z: np.ndarray) -> float:
    """The largest per-dimension Kolmogorov–Smirnov statistic of ``z`` against N(0, 1)."""
    return float(max(stats.kstest(z[:, d], "norm").statistic for d in range(z.shape[1])))


@torch.no_grad()
def method_outputs(method: str, model: nn.Module, x: np.ndarray, eps: np.ndarray, z_prior: np.ndarray) -> dict[str, np.ndarray]:
    """ẑ ~ q(z|x), its reconstruction, and generator samples from the prior draws."""
    xt, et, zt = (torch.from_numpy(a).float() for a in (x, eps, z_prior))
    z_hat = model.encode(xt, et)
    return {"z_hat": z_hat.numpy(), "x_rec": model.decoder(z_hat).numpy(), "x_gen": model.decoder(zt).numpy()}


def evaluate(
    toy: ToyConfig, settings: InferenceConfig, selection: dict, ali_models: str | Path, gan_models: str | Path,
    method_paths: dict[str, str | Path], bn: BatchNormConfig,
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
            payload, models[method] = load_method(method_paths[method], toy, settings, gan.decoder.state_dict(), statistics)
            check_method(method_paths[method], payload, toy, settings, selection, bn)
            trainings.append({"method": method, "device": payload["device"], "wall_time_s": round(payload["wall_time_s"], 3)})
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
        "qz_mmd2": mmd_rbf(out["z_hat"][:n], np.random.default_rng(settings.seed).standard_normal((n, out["z_hat"].shape[1])), settings.mmd_bandwidth),
        "qz_ks_max": ks_to_standard_normal(out["z_hat"]),
    }


def write_selection(path: str | Path, selection: dict) -> None:
    from ali_bench.atomic import write_text

    write_text(path, json.dumps(selection, indent=2) + "\n")
