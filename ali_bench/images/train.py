"""Train ALI on one image dataset: the released code's procedure, with a fast, resumable loop.

As the released code (docs/paper-vs-code.md §1-§2): pixels in [0, 1], no augmentation; one forward pass and
simultaneous D/G Adam updates (lr 1e-4, betas (0.5, 0.999)); the decoder's output bias starts at the
log-odds of the mean of 500 training images; the order of the training set is reshuffled each epoch.

Speed: the split lives on the device as one uint8 tensor and a batch is an index gather; on a GPU
the step (noise draws, dropout, forward, both backward passes, both Adam updates) is replayed as
one CUDA graph. The graphed and the eager step are the same function, ``image_step``.

Once training ends, the batch-norm population statistics of the final weights are recomputed
(``ali_bench/batchnorm.py``) from training batches shaped as a training step shapes them, and stored
in the models file beside the running averages; ``load_model`` picks one of the two.

Every epoch ends with an atomic checkpoint (models, both optimisers, RNG states, log); a rerun
resumes from it. The epoch's data order is a function of (seed, epoch), and the RNG states restore
the noise and dropout streams, so a resumed run ends with an uninterrupted run's parameters.

Why one file over 300 lines: the unconditional and the conditional model share this loop, its
step, its checkpoint and resume, and the final batch-norm recomputation; split, each piece would
need the others' state passed back and forth.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from ali_bench import batchnorm, checkpoint, trained_with
from ali_bench.config import (
    BatchNormConfig,
    ConditionalConfig,
    ConfigError,
    ImageRunConfig,
    ImagesConfig,
    as_dict,
    config_hash,
    load_config,
)
from ali_bench.cuda_graphs import StepRunner
from ali_bench.data.images import ImageSplit
from ali_bench.nets import architecture_options, image_architecture
from ali_bench.nets.conditional import ConditionalALI, condition_size, condition_vectors
from ali_bench.nets.image import ImageALI
from ali_bench.progress import steps_of_epoch
from ali_bench.resumable import length_free, run_epochs, write_log
from ali_bench.seeding import generator_for, seed_for
from ali_bench.training import MONITORS, divergence, image_step, not_finite

MODEL_FORMAT = "ali-bench/image-ali/1"
LOG_COLUMNS = ("epoch", *MONITORS, "wall_time_s")
MODEL_INIT, OUTPUT_BIAS, EPOCH_ORDER, TORCH_RNG, BN_STATISTICS, SAMPLE_GRIDS = 10, 11, 12, 13, 14, 15
BIAS_IMAGES = 500  # released code: one batch of 500 shuffled training images


@dataclass(frozen=True)
class Conditioning:
    """Train the conditional model (paper Sec. 4.4) with this run's settings and embedding mode."""

    run: ImageRunConfig
    embedding: str


def _run(dataset: str, cfg: ImagesConfig, conditioning: Conditioning | None) -> ImageRunConfig:
    return conditioning.run if conditioning else cfg.run(dataset)


def build_model(
    dataset: str, cfg: ImagesConfig, train: ImageSplit, device: torch.device, conditioning: Conditioning | None = None
) -> ImageALI | ConditionalALI:
    """The dataset's architecture with the paper's init, drawn from the images seed."""
    run = _run(dataset, cfg, conditioning)
    torch.manual_seed(seed_for(cfg.seed, MODEL_INIT))
    arch = image_architecture(dataset, cfg.variant, run.width, **architecture_options(dataset, cfg))
    if conditioning:
        model = ConditionalALI(arch, condition_size(dataset), conditioning.embedding)
    else:
        model = ImageALI(arch)
    pick = torch.randperm(len(train), generator=generator_for(cfg.seed, OUTPUT_BIAS))[:BIAS_IMAGES]
    model.init_output_bias(train.images[pick].float() / 255.0)
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)  # NHWC convolutions: tensor-core kernels; ~13% on CPU too
    return model.train()


def _rng_state(device: torch.device) -> dict:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


@dataclass
class ImageTrainer:
    model: ImageALI
    opt_d: torch.optim.Adam
    opt_g: torch.optim.Adam
    step: StepRunner
    device: torch.device

    def state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "rng": _rng_state(self.device),
        }

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        checkpoint.load_optimizer_state(self.opt_d, state["opt_d"])
        checkpoint.load_optimizer_state(self.opt_g, state["opt_g"])
        _set_rng_state(state["rng"], self.device)


def make_trainer(
    dataset: str,
    cfg: ImagesConfig,
    train: ImageSplit,
    device: torch.device,
    cuda_graphs: bool,
    conditioning: Conditioning | None = None,
) -> ImageTrainer:
    run = _run(dataset, cfg, conditioning)
    model = build_model(dataset, cfg, train, device, conditioning)
    use_graph = cuda_graphs and device.type == "cuda"
    fast = device.type == "cuda"
    adam = partial(
        torch.optim.Adam,
        lr=run.lr,
        betas=(run.beta1, 0.999),
        eps=1e-8,
        fused=True if fast else None,
        capturable=use_graph,
    )
    opt_d, opt_g = adam(model.discriminator_parameters()), adam(model.generator_parameters())
    channels_last = cfg.channels_last
    step = StepRunner(
        partial(image_step, model, opt_d, opt_g, bf16=cfg.bf16, channels_last=channels_last), use_graph=use_graph
    )
    torch.manual_seed(seed_for(cfg.seed, TORCH_RNG))  # the noise and dropout stream
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = cfg.tf32
        torch.backends.cudnn.allow_tf32 = cfg.tf32
        torch.backends.cudnn.benchmark = not torch.are_deterministic_algorithms_enabled()  # config key deterministic
    return ImageTrainer(model, opt_d, opt_g, step, device)


def run_settings(dataset: str, cfg: ImagesConfig, conditioning: Conditioning | None = None) -> dict:
    """Everything that shapes one dataset's training (not the other datasets' blocks)."""
    shared = {key: getattr(cfg, key) for key in ("variant", "seed", "tf32", "bf16", "channels_last")}
    extra = {"conditional": True, "embedding": conditioning.embedding} if conditioning else {"conditional": False}
    return {
        "dataset": dataset,
        **shared,
        **architecture_options(dataset, cfg),
        **extra,
        "run": as_dict(_run(dataset, cfg, conditioning)),
    }


def _config_keys(settings: dict, batchnorm_settings: dict) -> dict:
    """``run_settings`` (plus the BN recomputation) laid out as the config names its keys, so that a
    mismatch names the key a user edits (``images.digits.epochs``, ``conditional.embedding``)."""
    dataset = settings["dataset"]
    images = {key: settings[key] for key in ("variant", "seed", "tf32", "bf16", "channels_last")}
    if "dx_biases" in settings:
        images[f"{dataset}_dx_biases"] = settings["dx_biases"]
    run = {key: value for key, value in settings["run"].items() if key not in trained_with.IMAGE_RUN_EVALUATION_ONLY}
    view = {"images": images, "batchnorm": batchnorm_settings}
    if settings["conditional"]:
        view["conditional"] = {"embedding": settings["embedding"], dataset: run}
    else:
        images[dataset] = run
    return view


def check_trained_with(
    path: str | Path, payload: dict, images: ImagesConfig, bn: BatchNormConfig, conditional: ConditionalConfig
) -> None:
    """Refuse a models file trained with other settings than this config's (one line, the first key)."""
    dataset = payload["dataset"]
    conditioning = Conditioning(conditional.run(dataset), conditional.embedding) if payload.get("conditional") else None
    trained = payload["config"]
    asked = run_settings(dataset, images, conditioning)
    trained_with.check(
        path,
        _config_keys(trained, trained.get("batchnorm", {})),
        _config_keys(asked, trained_with.batchnorm_training(as_dict(bn))),
    )


def recomputed_statistics(
    model: ImageALI | ConditionalALI,
    data: torch.Tensor,
    conditions: torch.Tensor | None,
    bn: BatchNormConfig,
    seed: int,
    channels_last: bool,
) -> dict[str, torch.Tensor]:
    """Batch-norm statistics of ``model``'s current weights, from ``bn.batches`` training batches.

    Each batch is shaped as ``image_step`` shapes one: uint8 training images scaled to [0, 1], z and ε
    from N(0, I), one ``logits(x, z, eps)`` pass (the conditional model with the batch's own
    conditions), so D(x)'s BN sees real and generated images together, the encoder's only x and the
    decoder's only z, as in training. Draws come from their own seeded stream; the model keeps its
    running averages.
    """
    device = data.device
    size = min(bn.batch_size, len(data))

    @torch.no_grad()
    def forward(k: int) -> None:
        generator = generator_for(seed, BN_STATISTICS, k)
        rows = torch.randperm(len(data), generator=generator)[:size].to(device)
        x = data[rows].float().div_(255.0)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        shape = (size, model.arch.latent_dim, 1, 1)
        z = torch.randn(shape, generator=generator).to(device)
        eps = torch.randn(shape, generator=generator).to(device)
        target = model if conditions is None else model.given(conditions[rows])
        target.logits(x, z, eps)

    return batchnorm.recompute_statistics(model, forward, bn.batches)


def write_sample_grid(
    model: ImageALI | ConditionalALI, conditions: torch.Tensor | None, seed: int, path: Path, title: str, n: int = 100
) -> None:
    """``n`` samples of the current weights, for watching a training: the same z at every call (so
    successive grids show the model change, not the noise), drawn from a stream of their own (the
    training's noise streams and a resume are unaffected), in eval mode with BN's running averages.
    A conditional model decodes them under the first ``n`` training conditions."""
    from ali_bench.figures import image_grid

    device = next(model.parameters()).device
    z = torch.randn(n, model.arch.latent_dim, 1, 1, generator=generator_for(seed, SAMPLE_GRIDS, 0)).to(device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = model.decoder(z) if conditions is None else model.decode_given(z, conditions[:n])
    finally:
        model.train(was_training)
    image_grid(x.float().cpu(), 10, path, title)


def train_images(
    dataset: str,
    cfg: ImagesConfig,
    train: ImageSplit,
    out_path: str | Path,
    log_path: str | Path,
    checkpoint_path: str | Path,
    device: torch.device,
    device_label: str,
    cuda_graphs: bool = True,
    progress: bool = True,
    conditioning: Conditioning | None = None,
    bn: BatchNormConfig | None = None,
    sample_grid_every: int = 0,
    checkpoint_seconds: float = 0.0,
) -> dict:
    """Train, checkpointing every epoch (at most every ``checkpoint_seconds``), recompute the BN
    statistics of the final weights, and write the models file and the per-epoch CSV log.
    ``bn``: the config's ``batchnorm`` section (default: the schema's). ``sample_grid_every``: write
    a sample grid every this many epochs to ``<out folder>/samples/epoch_<n>.png`` (0: never)."""
    bn = bn if bn is not None else load_config({}).batchnorm
    run = _run(dataset, cfg, conditioning)
    section = f"{'conditional' if conditioning else 'images'}.{dataset}"  # where this run's keys live in the config
    batch = run.batch_size
    if len(train) < batch:  # no full batch: zero steps per epoch (batches have a static shape for CUDA graphs)
        raise ConfigError(
            f"config key '{section}.batch_size' is {batch}, more than the {len(train)} images of {dataset}'s "
            f"{section}.train_split {run.train_split!r}: lower the batch size"
        )
    trainer = make_trainer(dataset, cfg, train, device, cuda_graphs, conditioning)
    data = train.images.to(device)  # (N, 3, H, W) uint8, resident
    conditions = condition_vectors(dataset, train.labels).to(device) if conditioning else None
    steps = len(data) // batch  # static batch shape (CUDA graphs); the order changes every epoch

    def run_epoch(epoch: int) -> tuple[list[dict], dict]:
        order = torch.randperm(len(data), generator=generator_for(cfg.seed, EPOCH_ORDER, epoch)).to(device)
        total = torch.zeros(len(MONITORS), device=device)
        for step in steps_of_epoch(steps, epoch, progress):
            rows = order[step * batch : (step + 1) * batch]
            total += trainer.step(data[rows]) if conditions is None else trainer.step(data[rows], conditions[rows])
        means = dict(zip(MONITORS, (total / steps).tolist(), strict=True))
        if not_finite(means):
            raise divergence(
                f"training {'conditional ' if conditioning else ''}ALI on {dataset}",
                epoch + 1,
                means,
                f"lower {section}.lr (now {run.lr}) or check the data, and retrain",
            )
        if sample_grid_every and (epoch + 1) % sample_grid_every == 0:
            write_sample_grid(
                trainer.model,
                conditions,
                cfg.seed,
                Path(out_path).parent / "samples" / f"epoch_{epoch + 1:05d}.png",
                f"{dataset}: samples after epoch {epoch + 1} (fixed z, BN running averages)",
            )
        return [{"epoch": epoch + 1, **means}], {"loss_d": means["loss_d"], "loss_g": means["loss_g"]}

    settings = run_settings(dataset, cfg, conditioning)
    # the length is left out: growing it continues the training (ali_bench/resumable.py); nothing of an
    # epoch depends on the total (no schedule; the RNG states come with the checkpoint)
    fingerprint = config_hash({**length_free(settings, "run"), "n": len(data)})
    rows, wall = run_epochs(
        run_epoch,
        epochs=run.epochs,
        checkpoint_path=checkpoint_path,
        checkpoint_every=1,
        fingerprint=fingerprint,
        get_state=trainer.state,
        set_state=trainer.load,
        desc=f"ALI {dataset}",
        progress=progress,
        on_rows=partial(write_log, log_path, columns=LOG_COLUMNS),
        checkpoint_seconds=checkpoint_seconds,
        length_key=f"{section}.epochs",
    )
    recomputed = recomputed_statistics(trainer.model, data, conditions, bn, cfg.seed, cfg.channels_last)
    payload = {
        "format": MODEL_FORMAT,
        "dataset": dataset,
        "variant": cfg.variant,
        "width": run.width,
        "architecture_options": architecture_options(dataset, cfg),
        "conditional": conditioning is not None,
        "embedding": conditioning.embedding if conditioning else None,
        "state": {k: v.detach().cpu().contiguous() for k, v in trainer.model.state_dict().items()},
        "bn_recomputed": {k: v.contiguous() for k, v in recomputed.items()},
        "config": {**settings, "batchnorm": trained_with.batchnorm_training(as_dict(bn))},
        "epochs": run.epochs,
        "steps_per_epoch": steps,
        "device": device_label,
        "wall_time_s": wall,
    }
    checkpoint.save(out_path, payload)
    return payload


def load_model(
    path: str | Path, device: torch.device = torch.device("cpu"), *, statistics: str, conditional: bool = False
) -> tuple[dict, ImageALI | ConditionalALI]:
    """A trained model in eval mode (BN population statistics, no dropout).

    ``statistics`` (config ``batchnorm.statistics``): ``recomputed``, the BN statistics of the final
    weights stored at the end of training, or ``running``, the running averages training kept.
    ``conditional``: which kind the calling command takes; the other kind is refused in one line
    (a conditional model's encoder takes conditions an unconditional command never passes).
    """
    payload = checkpoint.load(path, MODEL_FORMAT)
    if bool(payload.get("conditional")) != conditional:
        kind, other = (
            ("a conditional", "an unconditional")
            if payload.get("conditional")
            else ("an unconditional", "a conditional")
        )
        train, where = (
            ("image-train --conditional", "images/<dataset>_conditional/models.pt")
            if conditional
            else ("image-train without --conditional", "images/<dataset>/models.pt")
        )
        raise checkpoint.CheckpointError(
            f"'{path}' holds {kind} model; this command takes {other} one (trained by "
            f"{train}; in the workflow's results, {where})"
        )
    if statistics == "recomputed" and "bn_recomputed" not in payload:
        raise checkpoint.CheckpointError(
            f"'{path}' has no recomputed batch-norm statistics (trained before they were stored): retrain it, "
            "or set config key 'batchnorm.statistics: running'"
        )
    arch = image_architecture(
        payload["dataset"], payload["variant"], payload["width"], **payload.get("architecture_options", {})
    )
    if payload.get("conditional"):
        model = ConditionalALI(arch, condition_size(payload["dataset"]), payload["embedding"])
    else:
        model = ImageALI(arch)
    model.load_state_dict(batchnorm.with_statistics(payload["state"], payload.get("bn_recomputed", {}), statistics))
    return payload, model.to(device).eval()
