"""One (dataset, labels, seed, model) semi-supervised run, resumable, evaluated at the end.

ali and supervised: Adam(3e-4, β1 0.5) for D and for the encoder and decoder, updated
simultaneously from one forward pass (``model.semisup_step``). gan-fm: improved-GAN's D update, then
its generator's feature-matching update (``feature_matching.gan_fm_step``) on a second unlabelled
batch. For all three the learning rate decays linearly to 0 over the last third of training; D's
weights are averaged as training goes (``average.py``) and evaluated at the end (``evaluate.py``,
``feature_matching.evaluate_all``). On a GPU the ali and supervised step is replayed as a CUDA
graph; the gan-fm step runs eagerly.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import torch

from ali_bench import sidecar_digest
from ali_bench.atomic import write_text
from ali_bench.checkpoint import load_optimizer_state
from ali_bench.config import ConfigError, config_hash
from ali_bench.cuda_graphs import StepRunner
from ali_bench.data.images import ImageSplit
from ali_bench.device import device_name
from ali_bench.nets.image import ImageALI
from ali_bench.progress import steps_of_epoch
from ali_bench.resumable import length_free, run_epochs, write_log
from ali_bench.seeding import generator_for, seed_for
from ali_bench.semisup import feature_matching
from ali_bench.semisup.average import DiscriminatorAverage, warn_if_average_cannot_move, weight_on_first_half
from ali_bench.semisup.curve import CURVE, curve_point, segment_ends
from ali_bench.semisup.evaluate import evaluate_all
from ali_bench.semisup.model import MONITORS, build, semisup_step
from ali_bench.semisup.settings import LABELLED_ORDER, NOISE, ORDER, SECOND_ORDER, SemisupSettings, balanced_labels
from ali_bench.training import divergence, not_finite


def make_optimisers(model: ImageALI, settings: SemisupSettings, device: torch.device, use_graph: bool):
    """Adam for D and for G with the learning rate as a tensor (``set_learning_rate`` moves it in
    place, so a captured step sees the schedule): on the GPU a float32 device tensor for the fused,
    capturable update; on the CPU a float64 one, whose value the update reads exactly as it read the
    Python float before."""
    on_gpu = device.type == "cuda"
    lr = partial(torch.tensor, settings.lr, dtype=torch.float32 if on_gpu else torch.float64, device=device)
    adam = partial(
        torch.optim.Adam, betas=(settings.beta1, 0.999), fused=True if on_gpu else None, capturable=use_graph
    )
    return adam(model.discriminator_parameters(), lr=lr()), adam(model.generator_parameters(), lr=lr())


def semisup_train_step(
    model: ImageALI,
    opt_d,
    opt_g,
    average: DiscriminatorAverage,
    x_lab: torch.Tensor,
    y_lab: torch.Tensor,
    x_unl: torch.Tensor,
    **options,
) -> torch.Tensor:
    """One training step as the loop runs it: ``semisup_step`` and the update of D's average.

    This is the function ``StepRunner`` replays as a CUDA graph on a GPU and calls directly on the
    CPU: everything that changes from step to step is a device tensor updated in place (the
    learning rate in the optimisers' param groups, the average's count), so the graph needs no
    Python number. ``options``: semisup_step's switches.
    """
    monitors = semisup_step(model, opt_d, opt_g, x_lab, y_lab, x_unl, **options)
    average.update(model)
    return monitors


def gan_fm_train_step(
    model: feature_matching.FeatureMatchingGAN,
    opt_d,
    opt_g,
    average: DiscriminatorAverage,
    x_lab: torch.Tensor,
    y_lab: torch.Tensor,
    x_unl: torch.Tensor,
    x_unl2: torch.Tensor,
    unlabelled_weight: float = 1.0,
) -> torch.Tensor:
    """GAN-FM's training step: ``gan_fm_step`` and the update of D's average (improved-GAN updates its
    average with D's update, before the generator's)."""
    monitors = feature_matching.gan_fm_step(model, opt_d, opt_g, x_lab, y_lab, x_unl, x_unl2, unlabelled_weight)
    average.update(model)
    return monitors


def set_learning_rate(optimisers, lr: float) -> None:
    """Write ``lr`` into the optimisers' tensor learning rates in place (a captured step reads them)."""
    for opt in optimisers:
        for group in opt.param_groups:
            group["lr"].fill_(lr)


def lr_factor(epoch: int, epochs: int, decay_fraction: float) -> float:
    """1 until the last ``decay_fraction`` of training, then linearly to 0 (improved-GAN: min(3 − 3e/E, 1))."""
    if decay_fraction <= 0:
        return 1.0
    return float(min(1.0, (1.0 - epoch / epochs) / decay_fraction))


def same_schedule(done: int, trained_for: int, *, epochs: int, decay_fraction: float) -> bool:
    """Whether epochs [0, done) of a run toward ``trained_for`` epochs had the learning rates of a run
    toward ``epochs``: then a checkpoint of the first continues into the second bit for bit. Why: the
    decay over the last ``decay_fraction`` of training depends on the total, so a finished shorter
    run's last epochs had lower rates than the longer run's (it trains from scratch instead)."""
    return all(
        lr_factor(epoch, trained_for, decay_fraction) == lr_factor(epoch, epochs, decay_fraction)
        for epoch in range(done)
    )


def train_semisup(
    settings: SemisupSettings,
    unlabelled: ImageSplit,
    labelled_pool: ImageSplit,
    test: ImageSplit,
    out_path: str | Path,
    log_path: str | Path,
    checkpoint_path: str | Path,
    device: torch.device,
    progress: bool = True,
    record: dict | None = None,
    cuda_graphs: bool = True,
    checkpoint_seconds: float = 0.0,
) -> dict:
    """Train one (dataset, labels, seed, model) run, resumably; evaluate it; write its result and log.
    ``record``: more keys for the result file (the CLI's data manifests). ``cuda_graphs``: on a GPU,
    replay the step (``semisup_train_step``) as a captured graph."""
    n_classes = int(labelled_pool.labels.max()) + 1
    if settings.n_labels % n_classes:
        raise ValueError(f"{settings.n_labels} labels do not split evenly over {n_classes} classes")
    if len(unlabelled) < settings.batch_size:  # no full batch: zero steps per epoch
        raise ConfigError(
            f"config key 'semisup.batch_size' is {settings.batch_size}, more than the {len(unlabelled)} images "
            f"of {settings.dataset}'s semisup.{settings.dataset}.unlabelled_split: lower the batch size"
        )
    chosen = balanced_labels(labelled_pool.labels.numpy(), settings.n_labels // n_classes, settings.seed)
    gan_fm = settings.model == "gan-fm"
    use_graph = cuda_graphs and device.type == "cuda" and not gan_fm
    if gan_fm:
        model = feature_matching.build_gan_fm(settings, n_classes, labelled_pool.images[chosen], unlabelled.images).to(
            device
        )
    else:
        model = build(settings, n_classes, unlabelled).to(device)
    opt_d, opt_g = make_optimisers(model, settings, device, use_graph=use_graph)
    average = DiscriminatorAverage(model, settings.ema_decay, settings.ema_warmup)
    x_lab = labelled_pool.images[chosen].to(device)
    y_lab = labelled_pool.labels[chosen].to(device)
    data = unlabelled.images.to(device)
    batch = settings.batch_size
    steps = len(data) // batch
    warn_if_average_cannot_move(settings.ema_decay, steps * settings.epochs, settings.ema_warmup)
    if gan_fm:
        step = partial(gan_fm_train_step, model, opt_d, opt_g, average, unlabelled_weight=settings.unlabelled_weight)
    else:
        step = partial(
            semisup_train_step,
            model,
            opt_d,
            opt_g,
            average,
            supervised_only=settings.supervised_only,
            separate=settings.d_batchnorm == "separate",
            unlabelled_weight=settings.unlabelled_weight,
        )
    step_fn = StepRunner(step, use_graph=use_graph)
    torch.manual_seed(seed_for(settings.seed, NOISE))

    def run_epoch(epoch: int) -> tuple[list[dict], dict]:
        factor = lr_factor(epoch, settings.epochs, settings.decay_fraction)
        set_learning_rate((opt_d, opt_g), settings.lr * factor)
        order = torch.randperm(len(data), generator=generator_for(settings.seed, ORDER, epoch)).to(device)
        # gan-fm's generator update takes a second unlabelled batch, from its own permutation (improved-GAN's trainx_unl2)
        second = (
            torch.randperm(len(data), generator=generator_for(settings.seed, SECOND_ORDER, epoch)).to(device)
            if gan_fm
            else None
        )
        labelled_order = torch.cat(
            [
                torch.randperm(len(x_lab), generator=generator_for(settings.seed, LABELLED_ORDER, epoch, k))
                for k in range(steps * batch // len(x_lab) + 1)
            ]
        ).to(device)
        ends, rows = segment_ends(steps, settings.evals_per_epoch), []
        total, begun = torch.zeros(len(MONITORS), device=device), 0
        for step in steps_of_epoch(steps, epoch, progress):
            pick = labelled_order[step * batch : (step + 1) * batch]
            unl = data[order[step * batch : (step + 1) * batch]]
            if gan_fm:
                total += step_fn(x_lab[pick], y_lab[pick], unl, data[second[step * batch : (step + 1) * batch]])
            else:
                total += step_fn(x_lab[pick], y_lab[pick], unl)
            if step + 1 not in ends:
                continue
            means = dict(zip(MONITORS, (total / (step + 1 - begun)).tolist(), strict=True))
            if not_finite(means):
                raise divergence(
                    f"semi-supervised run {settings.dataset}, {settings.n_labels} labels, seed {settings.seed}",
                    epoch + 1,
                    means,
                    f"lower semisup.lr (now {settings.lr}) or check the data, and retrain",
                )
            curve = curve_point(model, average, test, settings.seed, device, gan_fm) if settings.evals_per_epoch else {}
            rows.append(
                {"epoch": epoch + 1, "step": epoch * steps + step + 1, "lr": settings.lr * factor, **means, **curve}
            )
            total.zero_()
            begun = step + 1
        return rows, {"loss_d": rows[-1]["loss_d"], "train_error": rows[-1]["train_error"]}

    def get_state() -> dict:
        state = {
            "model": model.state_dict(),
            "opt_d": opt_d.state_dict(),
            "opt_g": opt_g.state_dict(),
            "average": average.shadow,
            "average_updates": average.updates,
            "rng": torch.get_rng_state(),
        }
        if device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(device)
        return state

    def set_state(state: dict) -> None:
        model.load_state_dict(state["model"])
        load_optimizer_state(opt_d, state["opt_d"])  # keeps the tensor learning rates a captured step reads
        load_optimizer_state(opt_g, state["opt_g"])
        with torch.no_grad():
            for mine, saved in zip(average.shadow, state["average"], strict=True):
                mine.copy_(saved)
        average.updates = state["average_updates"]
        torch.set_rng_state(state["rng"])
        if "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], device)

    # the length is left out: growing it continues the training while the learning rates of the epochs
    # done are those of the longer run (same_schedule; ali_bench/resumable.py)
    fingerprint = config_hash({**length_free(settings.__dict__), "n": len(data)})
    rows, wall = run_epochs(
        run_epoch,
        epochs=settings.epochs,
        checkpoint_path=checkpoint_path,
        checkpoint_every=1,
        fingerprint=fingerprint,
        get_state=get_state,
        set_state=set_state,
        desc=f"{settings.model} {settings.dataset} {settings.n_labels} labels seed {settings.seed}",
        progress=progress,
        on_rows=partial(write_log, log_path, columns=("epoch", "step", "lr", *MONITORS, *CURVE, "wall_time_s")),
        checkpoint_seconds=checkpoint_seconds,
        length_key=f"semisup.{settings.dataset}.epochs",
        same_schedule=partial(same_schedule, epochs=settings.epochs, decay_fraction=settings.decay_fraction),
    )
    if gan_fm:
        evaluations = feature_matching.evaluate_all(model, average, test, x_lab, y_lab, device)
    else:
        evaluations = evaluate_all(model, average, settings, test, x_lab, y_lab, data, device)
    result = {
        **settings.__dict__,
        "evaluations": evaluations,
        "average_weight_on_first_half": weight_on_first_half(
            settings.ema_decay, steps * settings.epochs, settings.ema_warmup
        ),
        "test_examples": len(test),
        "unlabelled_examples": len(data),
        "labelled_indices": chosen.tolist(),
        "steps_per_epoch": steps,
        "steps": steps * settings.epochs,
        "wall_time_s": wall,
        "device": device_name(device),
        **(record or {}),
    }
    write_text(out_path, json.dumps(result, indent=1) + "\n")
    sidecar_digest.record(out_path)  # semisup-table checks it (table_inputs.load_json)
    return result
