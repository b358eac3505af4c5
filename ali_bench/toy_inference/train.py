"""Train one of the methods (b)-(d) against the selected GAN run, resumably; load and check a trained one."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import torch
from torch import nn

from ali_bench import batchnorm, checkpoint, trained_with
from ali_bench.config import BatchNormConfig, ConfigError, InferenceConfig, ToyConfig, as_dict, config_hash
from ali_bench.data.mixture import train_and_test
from ali_bench.nets.batched import unstack_state_dict
from ali_bench.nets.toy import TOY_MODELS, ToyGAN
from ali_bench.resumable import length_free, run_epochs, write_log
from ali_bench.seeding import generator_for
from ali_bench.toy.train import load_models
from ali_bench.toy_inference.methods import INFERENCE, INFERENCE_BATCHNORM, METHOD_CODES, build_method, make_trainer
from ali_bench.training import MONITORS, divergence, not_finite

MODEL_FORMAT = "ali-bench/toy-inference-model/2"  # 2: recomputed batch-norm statistics under "bn_recomputed"
LOG_COLUMNS = ("epoch", "method", "loss", *MONITORS, "wall_time_s")


def load_run(models_path: str | Path, run_name: str, toy: ToyConfig, bn: BatchNormConfig) -> tuple[dict, ToyGAN]:
    """One run out of a batched models file, as a single model in eval mode, with the batch-norm
    statistics ``bn.statistics`` names (recomputed | running); a file trained with other settings
    than ``toy`` and ``bn`` is refused."""
    payload, batched = load_models(models_path, bn.statistics, toy=toy, bn=bn)
    kind = run_name.split("-")[0]
    runs = payload["model_runs"].get(kind, [])
    if run_name not in runs:  # a selection.json from another training (another seeds list, another set)
        held = ", ".join(name for names in payload["model_runs"].values() for name in names)
        raise checkpoint.CheckpointError(
            f"'{models_path}' holds no run {run_name!r} (it holds {held}): the run selection names a run of "
            "another training; select again from this training's coverage (snakemake <your targets> --forcerun toy_select)"
        )
    index = runs.index(run_name)
    model = TOY_MODELS[kind](batched[kind].net)
    model.load_state_dict(unstack_state_dict(batched[kind].state_dict(), index))
    return payload, model.float().eval()


def recomputed_statistics(
    method: str,
    model: nn.Module,
    data: torch.Tensor,
    latent: int,
    settings: InferenceConfig,
    batchnorm_settings: BatchNormConfig,
) -> dict[str, torch.Tensor]:
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
    method: str,
    toy: ToyConfig,
    settings: InferenceConfig,
    selection: dict,
    gan_models: str | Path,
    out_path: str | Path,
    log_path: str | Path,
    checkpoint_path: str | Path,
    device: torch.device,
    device_label: str,
    batchnorm_settings: BatchNormConfig,
    progress: bool = True,
    checkpoint_seconds: float = 0.0,
) -> dict:
    """Train one of inverse / posthoc / vae and write its model and per-epoch log.

    The epoch draws (data order, z, ε) are made on the CPU from the inference seed and moved to
    ``device``, as the toy trainer does, so a GPU run sees the same data as a CPU run. The selected
    GAN's decoder comes with the statistics ``batchnorm_settings.statistics`` names; the trained
    networks' statistics are recomputed at the end and stored beside their running averages.
    """
    if toy.mixture.n_train < settings.batch_size:  # no full batch: zero steps per epoch
        raise ConfigError(
            f"config key 'toy_inference.batch_size' is {settings.batch_size}, more than the "
            f"{toy.mixture.n_train} training points of toy.mixture.n_train: lower the batch size"
        )
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
        if not_finite(means):  # stop: a model file of NaN weights would be evaluated as if measured
            raise divergence(
                f"toy inference method {method}",
                epoch + 1,
                means,
                f"lower toy_inference.lr (now {settings.lr}) and retrain",
            )
        return [{"epoch": epoch + 1, "method": method, **means}], {"loss": means["loss"]}

    # what the run trains against too: the frozen decoder's batch-norm statistics
    # the length is left out: growing it continues the training (ali_bench/resumable.py)
    fingerprint = config_hash(
        {
            "method": method,
            "toy": as_dict(toy),
            "settings": length_free(as_dict(settings)),
            "selection": selection,
            "decoder_statistics": batchnorm_settings.statistics,
        }
    )
    rows, wall = run_epochs(
        run_epoch,
        epochs=settings.epochs,
        checkpoint_path=checkpoint_path,
        checkpoint_every=1,
        fingerprint=fingerprint,
        get_state=trainer.state,
        set_state=trainer.load,
        desc=f"toy {method}",
        progress=progress,
        on_rows=partial(write_log, log_path, columns=LOG_COLUMNS),
        checkpoint_seconds=checkpoint_seconds,
        length_key="toy_inference.epochs",
    )
    payload = {
        "format": MODEL_FORMAT,
        "method": method,
        "state": {k: v.cpu() for k, v in model.state_dict().items()},
        "bn_recomputed": recomputed_statistics(method, model, data, latent, settings, batchnorm_settings),
        "batchnorm": as_dict(batchnorm_settings),
        "selection": selection,
        "settings": as_dict(settings),
        "toy": as_dict(toy),
        "epochs": settings.epochs,
        "device": device_label,
        "wall_time_s": wall,
    }
    checkpoint.save(out_path, payload)
    return payload


def check_method(
    path: str | Path, payload: dict, toy: ToyConfig, settings: InferenceConfig, selection: dict, bn: BatchNormConfig
) -> None:
    """Refuse a method file trained against other toy or inference settings, another GAN run, or
    another frozen-decoder BN choice than this evaluation's: one line naming the first difference."""
    if "toy" not in payload:
        raise checkpoint.CheckpointError(
            f"'{path}' does not record the toy settings it was trained with "
            "(written before they were stored): retrain it"
        )
    select_from = settings.select_from
    trained = {
        "toy": trained_with.toy_training(payload["toy"], select_from),
        "toy_inference": trained_with.inference_training(payload["settings"]),
        "batchnorm": {
            **trained_with.batchnorm_training(payload["batchnorm"]),
            "statistics": payload["batchnorm"]["statistics"],
        },
        "selection": {kind: payload["selection"][kind]["run"] for kind in ("ali", "gan")},
    }
    asked = {
        "toy": trained_with.toy_training(as_dict(toy), select_from),
        "toy_inference": trained_with.inference_training(as_dict(settings)),
        "batchnorm": {**trained_with.batchnorm_training(as_dict(bn)), "statistics": bn.statistics},
        "selection": {kind: selection[kind]["run"] for kind in ("ali", "gan")},
    }
    trained_with.check(path, trained, asked)


def load_method(
    path: str | Path, toy: ToyConfig, settings: InferenceConfig, gan_decoder_state: dict, statistics: str
) -> tuple[dict, nn.Module]:
    """A trained method in eval mode, with the ``statistics`` batch-norm statistics (recomputed | running)."""
    payload = checkpoint.load(path, MODEL_FORMAT)
    model = build_method(payload["method"], toy, settings, gan_decoder_state)
    model.load_state_dict(batchnorm.with_statistics(payload["state"], payload["bn_recomputed"], statistics))
    return payload, model.eval()
