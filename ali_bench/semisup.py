"""K+1-class semi-supervised ALI (paper Sec. 4.3, Tables 1-2; reference §6).

The authors never released this code. What is known (reference §6): the discriminator takes (x, z)
and outputs K+1 classes, adapting Salimans et al.'s improved-GAN script; no feature matching. What
this module does, each piece marked as a reconstruction in config/config.yaml:

- D's joint net ends in K logits l; the (K+1)-th, "generated", logit is fixed at 0, so
  Z(x, z) = logsumexp(l) is the logit of "real" and D(x, z) = sigmoid(Z).
- Discriminator loss (improved-GAN's): cross-entropy on labelled q-pairs (x, G_z(x)) plus
  0.5·[softplus(−Z) on unlabelled q-pairs + softplus(Z) on p-pairs (G_x(z), z)], which is
  improved-GAN's ``loss_unl`` written with softplus(Z) − Z = softplus(−Z).
- Encoder and decoder: ALI's swapped-label loss on Z, softplus(Z_unlabelled) + softplus(−Z_generated).
- Adam(3e-4, β1 0.5); 100 labelled + 100 unlabelled per step; the learning rate decays linearly to 0
  over the last third of training; the test error uses an exponential moving average of D's weights.
- The supervised-only baseline trains the same discriminator on the labelled pairs alone (the
  cross-entropy term), its encoder left at initialisation.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ali_bench.atomic import write_text
from ali_bench.data.images import ImageSplit
from ali_bench.device import device_name
from ali_bench.nets import image_architecture
from ali_bench.nets.image import ImageALI
from ali_bench.objectives import generator_loss
from ali_bench.resumable import run_epochs
from ali_bench.seeding import generator_for, seed_for
from ali_bench.toy.train import write_log
from ali_bench.training import TrainingDiverged

LABELS, ORDER, LABELLED_ORDER, INIT, NOISE, EVAL = 30, 31, 32, 33, 34, 35
MONITORS = ("loss_d", "loss_lab", "loss_unl", "loss_g", "train_error")


# --------------------------------------------------------------------------------------------------
# losses on logits


def labelled_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the K real classes: −l_y + logsumexp(l), averaged (improved-GAN's loss_lab)."""
    return F.cross_entropy(logits, labels)


def unlabelled_loss(logits_unl: torch.Tensor, logits_gen: torch.Tensor) -> torch.Tensor:
    """improved-GAN's loss_unl: −½·mean(Z_unl) + ½·mean(softplus(Z_unl)) + ½·mean(softplus(Z_gen))."""
    z_unl, z_gen = torch.logsumexp(logits_unl, dim=1), torch.logsumexp(logits_gen, dim=1)
    return -0.5 * z_unl.mean() + 0.5 * F.softplus(z_unl).mean() + 0.5 * F.softplus(z_gen).mean()


def encoder_decoder_loss(logits_unl: torch.Tensor, logits_gen: torch.Tensor) -> torch.Tensor:
    """ALI's swapped-label generator loss with D(x, z) = sigmoid(logsumexp(l))."""
    return generator_loss(torch.logsumexp(logits_unl, dim=1), torch.logsumexp(logits_gen, dim=1))


# --------------------------------------------------------------------------------------------------
# labels


def balanced_labels(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """``per_class`` random examples of each class (sorted indices), drawn from ``seed`` alone."""
    rng = np.random.default_rng(seed_for(seed, LABELS))
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if len(members) < per_class:
            raise ValueError(f"class {cls} has {len(members)} examples, fewer than the {per_class} labels asked for")
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))


# --------------------------------------------------------------------------------------------------
# model and step


@dataclass(frozen=True)
class SemisupSettings:
    dataset: str
    n_labels: int
    seed: int
    epochs: int
    batch_size: int  # labelled and unlabelled examples per step, each
    lr: float
    beta1: float
    decay_fraction: float  # the last fraction of epochs over which the lr falls linearly to 0
    ema_decay: float
    width: float
    variant: str
    supervised_only: bool


def build(settings: SemisupSettings, n_classes: int, train: ImageSplit) -> ImageALI:
    torch.manual_seed(seed_for(settings.seed, INIT))
    model = ImageALI(image_architecture(settings.dataset, settings.variant, settings.width), n_classes=n_classes)
    pick = torch.randperm(len(train), generator=generator_for(settings.seed, INIT))[:500]
    model.init_output_bias(train.images[pick].float() / 255.0)
    return model.train()


def semisup_step(model: ImageALI, opt_d, opt_g, x_lab: torch.Tensor, y_lab: torch.Tensor, x_unl: torch.Tensor,
                 supervised_only: bool = False) -> torch.Tensor:
    """One simultaneous update on uint8 batches; returns MONITORS as a tensor.

    Labelled and unlabelled images go through the encoder together (its BN sees real images only),
    and all pairs through D as one batch: labelled q-pairs, unlabelled q-pairs, p-pairs.
    """
    x_lab, x_unl = x_lab.float() / 255.0, x_unl.float() / 255.0
    n_lab, n_unl = len(x_lab), len(x_unl)
    shape = (n_unl, model.arch.latent_dim, 1, 1)
    z = torch.randn(shape, device=x_unl.device)
    eps = torch.randn((n_lab + n_unl, *shape[1:]), device=x_unl.device)
    x_real = torch.cat([x_lab, x_unl])
    z_hat = model.encode(x_real, eps)
    if supervised_only:
        logits = model.discriminate(x_lab, z_hat[:n_lab].detach())
        loss_lab = labelled_loss(logits, y_lab)
        loss_unl = loss_g = torch.zeros((), device=x_lab.device)
        loss_d = loss_lab
    else:
        x_tilde = model.decoder(z)
        logits = model.discriminate(torch.cat([x_real, x_tilde]), torch.cat([z_hat, z]))
        logits_lab, logits_unl, logits_gen = logits[:n_lab], logits[n_lab : n_lab + n_unl], logits[n_lab + n_unl :]
        loss_lab = labelled_loss(logits_lab, y_lab)
        loss_unl = unlabelled_loss(logits_unl, logits_gen)
        loss_d = loss_lab + loss_unl
        loss_g = encoder_decoder_loss(logits_unl, logits_gen)
    # both gradient sets from the same graph, before either optimiser moves a parameter
    d_params = model.discriminator_parameters()
    grads_d = torch.autograd.grad(loss_d, d_params, retain_graph=not supervised_only)
    if not supervised_only:
        g_params = model.generator_parameters()
        for param, grad in zip(g_params, torch.autograd.grad(loss_g, g_params)):
            param.grad = grad
    for param, grad in zip(d_params, grads_d):
        param.grad = grad
    opt_d.step()
    if not supervised_only:
        opt_g.step()
    train_error = (logits[:n_lab].argmax(1) != y_lab).float().mean()
    return torch.stack([loss_d.detach(), loss_lab.detach(), loss_unl.detach(), loss_g.detach(), train_error])


def lr_factor(epoch: int, epochs: int, decay_fraction: float) -> float:
    """1 until the last ``decay_fraction`` of training, then linearly to 0 (improved-GAN: min(3 − 3e/E, 1))."""
    if decay_fraction <= 0:
        return 1.0
    return float(min(1.0, (1.0 - epoch / epochs) / decay_fraction))


class DiscriminatorAverage:
    """An exponential moving average of D's parameters (and a copy of its BN statistics) for evaluation."""

    def __init__(self, model: ImageALI, decay: float):
        self.decay = decay
        self.shadow = [p.detach().clone() for p in model.discriminator_parameters()]

    @torch.no_grad()
    def update(self, model: ImageALI) -> None:
        torch._foreach_lerp_(self.shadow, [p.detach() for p in model.discriminator_parameters()], 1 - self.decay)

    def averaged_model(self, model: ImageALI) -> ImageALI:
        averaged = copy.deepcopy(model)
        with torch.no_grad():
            for target, value in zip(averaged.discriminator_parameters(), self.shadow):
                target.copy_(value)
        return averaged.eval()


@torch.no_grad()
def test_error(model: ImageALI, test: ImageSplit, seed: int, device: torch.device, chunk: int = 500) -> float:
    """Share of test images whose K-way prediction argmax_k l_k(x, ẑ) is wrong; ẑ sampled from q(z|x)."""
    model.eval()
    generator = generator_for(seed, EVAL)
    wrong = 0
    for start in range(0, len(test), chunk):
        x = test.images[start : start + chunk].to(device).float() / 255.0
        eps = torch.randn(len(x), model.arch.latent_dim, 1, 1, generator=generator).to(device)
        predicted = model.discriminate(x, model.encode(x, eps)).argmax(1).cpu()
        wrong += int((predicted != test.labels[start : start + chunk]).sum())
    return wrong / len(test)


def train_semisup(
    settings: SemisupSettings, unlabelled: ImageSplit, labelled_pool: ImageSplit, test: ImageSplit,
    out_path: str | Path, log_path: str | Path, checkpoint_path: str | Path, device: torch.device, progress: bool = True,
) -> dict:
    """Train one (dataset, labels, seed) run, resumably; evaluate it; write its result and log."""
    n_classes = int(labelled_pool.labels.max()) + 1
    if settings.n_labels % n_classes:
        raise ValueError(f"{settings.n_labels} labels do not split evenly over {n_classes} classes")
    chosen = balanced_labels(labelled_pool.labels.numpy(), settings.n_labels // n_classes, settings.seed)
    model = build(settings, n_classes, unlabelled).to(device)
    adam = partial(torch.optim.Adam, lr=settings.lr, betas=(settings.beta1, 0.999), fused=True if device.type == "cuda" else None)
    opt_d, opt_g = adam(model.discriminator_parameters()), adam(model.generator_parameters())
    average = DiscriminatorAverage(model, settings.ema_decay)
    x_lab = labelled_pool.images[chosen].to(device)
    y_lab = labelled_pool.labels[chosen].to(device)
    data = unlabelled.images.to(device)
    batch = settings.batch_size
    steps = len(data) // batch
    torch.manual_seed(seed_for(settings.seed, NOISE))

    def run_epoch(epoch: int) -> tuple[list[dict], dict]:
        factor = lr_factor(epoch, settings.epochs, settings.decay_fraction)
        for opt in (opt_d, opt_g):
            for group in opt.param_groups:
                group["lr"] = settings.lr * factor
        order = torch.randperm(len(data), generator=generator_for(settings.seed, ORDER, epoch)).to(device)
        labelled_order = torch.cat([torch.randperm(len(x_lab), generator=generator_for(settings.seed, LABELLED_ORDER, epoch, k))
                                    for k in range(steps * batch // len(x_lab) + 1)]).to(device)
        total = torch.zeros(len(MONITORS), device=device)
        for step in tqdm(range(steps), desc=f"epoch {epoch + 1}", leave=False, disable=not progress, mininterval=2):
            pick = labelled_order[step * batch : (step + 1) * batch]
            total += semisup_step(model, opt_d, opt_g, x_lab[pick], y_lab[pick], data[order[step * batch : (step + 1) * batch]],
                                  settings.supervised_only)
            average.update(model)
        means = dict(zip(MONITORS, (total / steps).tolist()))
        if not all(abs(v) < float("inf") for v in means.values()):
            raise TrainingDiverged(f"semi-supervised run {settings} diverged in epoch {epoch + 1}; "
                                   f"the last good checkpoint '{checkpoint_path}' is kept")
        return [{"epoch": epoch + 1, "lr": settings.lr * factor, **means}], {"loss_d": means["loss_d"], "train_error": means["train_error"]}

    def get_state() -> dict:
        state = {"model": model.state_dict(), "opt_d": opt_d.state_dict(), "opt_g": opt_g.state_dict(),
                 "average": average.shadow, "rng": torch.get_rng_state()}
        if device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(device)
        return state

    def set_state(state: dict) -> None:
        model.load_state_dict(state["model"])
        opt_d.load_state_dict(state["opt_d"])
        opt_g.load_state_dict(state["opt_g"])
        with torch.no_grad():
            for mine, saved in zip(average.shadow, state["average"]):
                mine.copy_(saved)
        torch.set_rng_state(state["rng"])
        if "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], device)

    from ali_bench.config import config_hash

    fingerprint = config_hash({**settings.__dict__, "n": len(data)})
    kind = "supervised-only" if settings.supervised_only else "ALI K+1"
    rows, wall = run_epochs(run_epoch, epochs=settings.epochs, checkpoint_path=checkpoint_path, checkpoint_every=1,
                            fingerprint=fingerprint, get_state=get_state, set_state=set_state,
                            desc=f"{kind} {settings.dataset} {settings.n_labels} labels seed {settings.seed}", progress=progress)
    error = test_error(average.averaged_model(model), test, settings.seed, device)
    error_last = test_error(model, test, settings.seed, device)
    result = {
        **settings.__dict__, "model": kind, "test_error": error, "test_error_without_average": error_last,
        "test_examples": len(test), "unlabelled_examples": len(data), "labelled_indices": chosen.tolist(),
        "steps_per_epoch": steps, "wall_time_s": wall, "device": device_name(device),
    }
    write_log(log_path, rows, ("epoch", "lr", *MONITORS, "wall_time_s"))
    write_text(out_path, json.dumps(result, indent=1) + "\n")
    Path(checkpoint_path).unlink(missing_ok=True)
    return result
