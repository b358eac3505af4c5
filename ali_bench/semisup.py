"""K+1-class semi-supervised ALI (paper Sec. 4.3, Tables 1-2; reference §6).

The authors never released this code. What is known (reference §6): the discriminator takes (x, z)
and outputs K+1 classes, adapting Salimans et al.'s improved-GAN script
(``train_cifar_feature_matching.py``); no feature matching. What this module does, each piece
marked as a reconstruction in config/config.yaml:

- D's joint net ends in K logits l; the (K+1)-th, "generated", logit is fixed at 0, so
  Z(x, z) = logsumexp(l) is the logit of "real" and D(x, z) = sigmoid(Z).
- Discriminator loss (improved-GAN's): cross-entropy on labelled q-pairs (x, G_z(x)) plus
  ``unlabelled_weight`` · ½·[softplus(−Z) on unlabelled q-pairs + softplus(Z) on p-pairs (G_x(z), z)],
  which is improved-GAN's ``loss_unl`` written with softplus(Z) − Z = softplus(−Z).
- Encoder and decoder: ALI's swapped-label loss on Z, softplus(Z_unlabelled) + softplus(−Z_generated),
  updated simultaneously with D from the same forward pass (ALI's step; improved-GAN updated its
  generator after D, on a second unlabelled batch, with feature matching instead).
- Adam(3e-4, β1 0.5); 100 labelled + 100 unlabelled per step; the learning rate decays linearly to 0
  over the last third of training; the test error uses an exponential moving average of D's weights
  whose decay warms up with the step count (``average_decay``), so a short run's average moves.
- D's batch norm (``d_batchnorm``): ``joint`` (ALI's step: labelled, unlabelled and generated pairs
  in one batch), ``separate`` (one pass per group, as improved-GAN's three ``get_output`` calls), or
  ``weightnorm`` (improved-GAN's D: no batch norm, weight normalisation with data-dependent init).
- Every evaluation uses batch-norm statistics recomputed for the evaluated weights (the live ones
  and the averaged ones, see ``ali_bench/batchnorm.py``); the running averages are evaluated too,
  and the result file records both, with the K+1 error for three latent codes at test (ẑ sampled
  from q(z|x), the posterior mean, prior noise), and the error on the labelled training set.
- The supervised-only baseline trains the same discriminator on the labelled pairs alone (the
  cross-entropy term), its encoder left at initialisation.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ali_bench import batchnorm, trained_with
from ali_bench.atomic import write_text
from ali_bench.config import Config
from ali_bench.cuda_graphs import StepRunner
from ali_bench.data.images import ImageSplit
from ali_bench.device import device_name
from ali_bench.nets import image_architecture
from ali_bench.nets.image import ImageALI
from ali_bench.objectives import generator_loss
from ali_bench.resumable import run_epochs
from ali_bench.seeding import generator_for, seed_for
from ali_bench.toy.train import write_log
from ali_bench.training import TrainingDiverged, checkpoint_note

log = logging.getLogger(__name__)

LABELS, ORDER, LABELLED_ORDER, INIT, NOISE, EVAL, BN_PASSES, WN_INIT = 30, 31, 32, 33, 34, 35, 36, 37
MONITORS = ("loss_d", "loss_lab", "loss_unl", "loss_g", "train_error")
D_BATCHNORM = ("joint", "separate", "weightnorm")
LATENT_AT_TEST = ("sampled", "posterior_mean", "prior")  # which z goes beside x into D at test
WEIGHTNORM_STD = 0.05  # improved-GAN's W = Normal(0.05) for the direction vectors
AVERAGE_WARMUP = 10  # decay_t = min(decay, (1 + t) / (AVERAGE_WARMUP + t)), TF's num_updates rule


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
# settings


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
    d_batchnorm: str = "weightnorm"  # see D_BATCHNORM and config/config.yaml
    ema_warmup: bool = True  # decay_t = min(ema_decay, (1 + t)/(10 + t)); False: the plain decay (improved-GAN)
    unlabelled_weight: float = 1.0  # improved-GAN's --unlabeled_weight on loss_unl
    bn_batches: int = 10  # batch-norm statistics recomputed from this many training-shaped batches
    bn_batch_size: int = 500  # of this many labelled, unlabelled and generated pairs each

    def __post_init__(self) -> None:
        if self.d_batchnorm not in D_BATCHNORM:
            raise ValueError(f"config key 'semisup.d_batchnorm': {self.d_batchnorm!r}; expected one of {', '.join(D_BATCHNORM)}")


def settings_for(cfg: Config, dataset: str, labels: int, seed: int, supervised_only: bool) -> SemisupSettings:
    """The settings of one run (dataset, labels, seed, model) as the config gives them."""
    run, semisup = cfg.semisup.run(dataset), cfg.semisup
    return SemisupSettings(
        dataset=dataset, n_labels=labels, seed=seed, epochs=run.epochs, batch_size=semisup.batch_size, lr=semisup.lr,
        beta1=semisup.beta1, decay_fraction=semisup.decay_fraction, ema_decay=semisup.ema_decay, width=run.width,
        variant=cfg.images.variant, supervised_only=supervised_only, d_batchnorm=semisup.d_batchnorm,
        ema_warmup=semisup.ema_warmup, unlabelled_weight=semisup.unlabelled_weight,
        bn_batches=cfg.batchnorm.batches, bn_batch_size=cfg.batchnorm.batch_size,
    )


def check_result(path: str | Path, result: dict, cfg: Config) -> None:
    """Refuse a run's result whose settings are not those the config gives that run (one line, the
    first differing setting): a table never mixes in a run from another configuration."""
    asked = settings_for(cfg, result["dataset"], result["n_labels"], result["seed"], result["model"] == "supervised-only")
    trained_with.check(path, _as_config_keys(result), _as_config_keys(asked.__dict__))


SHARED_SETTINGS = ("batch_size", "lr", "beta1", "decay_fraction", "ema_decay", "d_batchnorm", "ema_warmup", "unlabelled_weight")


def _as_config_keys(settings: dict) -> dict:
    """A run's settings laid out as the config names them, so that a mismatch names the key to edit."""
    dataset = settings["dataset"]
    semisup = {key: settings.get(key) for key in SHARED_SETTINGS}
    semisup[dataset] = {"epochs": settings.get("epochs"), "width": settings.get("width")}
    return {"semisup": semisup, "images": {"variant": settings.get("variant")},
            "batchnorm": {"batches": settings.get("bn_batches"), "batch_size": settings.get("bn_batch_size")}}


# --------------------------------------------------------------------------------------------------
# weight normalisation for D (improved-GAN's nn.weight_norm), built from the image ALI's own D


class WeightNormConv2d(nn.Module):
    """A conv whose weight is g · v / ‖v‖ per output channel, plus a bias (Salimans & Kingma 2016).

    Why: improved-GAN's K+1 discriminator had no batch norm, so each pair's logits depend on that
    pair alone (with batch norm, labelled, unlabelled and generated pairs shape each other's
    logits). ``initialise`` switches on improved-GAN's data-dependent initialisation for one
    forward pass: g and b are set so that this batch's pre-activations have mean 0 and standard
    deviation ``init_scale`` per channel. As improved-GAN (``train_g``), only the output layer
    trains its g; elsewhere g stays at its data-dependent value (a buffer), and v and b train.
    """

    def __init__(self, conv: nn.Conv2d, init_scale: float, train_scale: bool):
        super().__init__()
        self.stride, self.padding = conv.stride, conv.padding
        self.direction = nn.Parameter(torch.empty_like(conv.weight).normal_(0.0, WEIGHTNORM_STD))
        if train_scale:
            self.scale = nn.Parameter(torch.ones(conv.out_channels))
        else:
            self.register_buffer("scale", torch.ones(conv.out_channels))
        self.bias = nn.Parameter(torch.zeros(conv.out_channels))
        self.init_scale = init_scale
        self.initialise = False

    def weight(self) -> torch.Tensor:
        norm = self.direction.pow(2).sum(dim=(1, 2, 3), keepdim=True).add(1e-6).sqrt()
        return self.direction * (self.scale.view(-1, 1, 1, 1) / norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.initialise:
            with torch.no_grad():
                out = F.conv2d(x, self.weight(), None, self.stride, self.padding)
                mean = out.mean(dim=(0, 2, 3))
                inv_std = self.init_scale / (out - mean.view(1, -1, 1, 1)).pow(2).mean(dim=(0, 2, 3)).sqrt()
                self.scale.mul_(inv_std)
                self.bias.copy_(-mean * inv_std)
        return F.conv2d(x, self.weight(), self.bias, self.stride, self.padding)


def weight_normalised(stack: nn.Sequential, last_init_scale: float | None) -> nn.Sequential:
    """``stack`` with batch norm removed (an Identity keeps layer indices) and every conv weight-normalised.

    ``last_init_scale``: the stack's last conv is D's output layer: its data-dependent init scale
    (improved-GAN: 0.1 for the output layer, 1 elsewhere) and a trained g; None: no output layer here.
    """
    convs = [i for i, m in enumerate(stack) if isinstance(m, nn.Conv2d)]
    modules: list[nn.Module] = []
    for i, module in enumerate(stack):
        if isinstance(module, nn.BatchNorm2d):
            modules.append(nn.Identity())
        elif isinstance(module, nn.Conv2d):
            output_layer = i == convs[-1] and last_init_scale is not None
            modules.append(WeightNormConv2d(module, last_init_scale if output_layer else 1.0, train_scale=output_layer))
        else:
            modules.append(module)
    return nn.Sequential(*modules)


def use_weightnorm_discriminator(model: ImageALI) -> None:
    """Replace D's three stacks by weight-normalised ones without batch norm (torch's global RNG: seed it first)."""
    model.dx = weight_normalised(model.dx, None)
    model.dz = weight_normalised(model.dz, None)
    model.joint = weight_normalised(model.joint, 0.1)


@torch.no_grad()
def initialise_weightnorm(model: ImageALI, x: torch.Tensor, z: torch.Tensor) -> None:
    """improved-GAN's data-dependent init: one forward pass of D on (x, z), layer by layer (dropout on, as there)."""
    layers = [m for m in model.modules() if isinstance(m, WeightNormConv2d)]
    for layer in layers:
        layer.initialise = True
    try:
        model.discriminate(x, z)
    finally:
        for layer in layers:
            layer.initialise = False


# --------------------------------------------------------------------------------------------------
# model and step


def build(settings: SemisupSettings, n_classes: int, train: ImageSplit) -> ImageALI:
    """The seeded model; for ``weightnorm``, D's init pass runs on 500 training images with prior z."""
    torch.manual_seed(seed_for(settings.seed, INIT))
    model = ImageALI(image_architecture(settings.dataset, settings.variant, settings.width), n_classes=n_classes)
    pick = torch.randperm(len(train), generator=generator_for(settings.seed, INIT))[:500]
    images = train.images[pick].float() / 255.0
    model.init_output_bias(images)
    if settings.d_batchnorm == "weightnorm":
        use_weightnorm_discriminator(model)
        z = torch.randn(len(images), model.arch.latent_dim, 1, 1, generator=generator_for(settings.seed, WN_INIT))
        model.train()
        initialise_weightnorm(model, images, z)
    return model.train()


def discriminate_groups(model: ImageALI, xs: list[torch.Tensor], zs: list[torch.Tensor], separate: bool) -> list[torch.Tensor]:
    """D's logits for each group of pairs: one joint batch (its batch norm mixes the groups) or one pass each."""
    if separate:
        return [model.discriminate(x, z) for x, z in zip(xs, zs)]
    logits = model.discriminate(torch.cat(xs), torch.cat(zs))
    return list(logits.split([len(x) for x in xs]))


def semisup_step(model: ImageALI, opt_d, opt_g, x_lab: torch.Tensor, y_lab: torch.Tensor, x_unl: torch.Tensor,
                 supervised_only: bool = False, separate: bool = False, unlabelled_weight: float = 1.0) -> torch.Tensor:
    """One simultaneous update on uint8 batches; returns MONITORS as a tensor.

    Labelled and unlabelled images go through the encoder together (its BN sees real images only);
    D sees labelled q-pairs, unlabelled q-pairs and p-pairs as one batch, or (``separate``) one pass each.
    """
    x_lab, x_unl = x_lab.float() / 255.0, x_unl.float() / 255.0
    n_lab, n_unl = len(x_lab), len(x_unl)
    shape = (n_unl, model.arch.latent_dim, 1, 1)
    z = torch.randn(shape, device=x_unl.device)
    eps = torch.randn((n_lab + n_unl, *shape[1:]), device=x_unl.device)
    z_hat = model.encode(torch.cat([x_lab, x_unl]), eps)
    if supervised_only:
        logits_lab = model.discriminate(x_lab, z_hat[:n_lab].detach())
        loss_lab = labelled_loss(logits_lab, y_lab)
        loss_unl = loss_g = torch.zeros((), device=x_lab.device)
        loss_d = loss_lab
    else:
        x_tilde = model.decoder(z)
        logits_lab, logits_unl, logits_gen = discriminate_groups(
            model, [x_lab, x_unl, x_tilde], [z_hat[:n_lab], z_hat[n_lab:], z], separate)
        loss_lab = labelled_loss(logits_lab, y_lab)
        loss_unl = unlabelled_loss(logits_unl, logits_gen)
        loss_d = loss_lab + unlabelled_weight * loss_unl
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
    train_error = (logits_lab.argmax(1) != y_lab).float().mean()
    return torch.stack([loss_d.detach(), loss_lab.detach(), loss_unl.detach(), loss_g.detach(), train_error])


def make_optimisers(model: ImageALI, settings: SemisupSettings, device: torch.device, use_graph: bool):
    """Adam for D and for G with the learning rate as a tensor (``set_learning_rate`` moves it in
    place, so a captured step sees the schedule): on the GPU a float32 device tensor for the fused,
    capturable update; on the CPU a float64 one, whose value the update reads exactly as it read the
    Python float before."""
    on_gpu = device.type == "cuda"
    lr = partial(torch.tensor, settings.lr, dtype=torch.float32 if on_gpu else torch.float64, device=device)
    adam = partial(torch.optim.Adam, betas=(settings.beta1, 0.999), fused=True if on_gpu else None, capturable=use_graph)
    return adam(model.discriminator_parameters(), lr=lr()), adam(model.generator_parameters(), lr=lr())


def semisup_train_step(model: ImageALI, opt_d, opt_g, average: DiscriminatorAverage, x_lab: torch.Tensor,
                       y_lab: torch.Tensor, x_unl: torch.Tensor, **options) -> torch.Tensor:
    """One training step as the loop runs it: ``semisup_step`` and the update of D's average.

    This is the function ``StepRunner`` replays as a CUDA graph on a GPU and calls directly on the
    CPU: everything that changes from step to step is a device tensor updated in place (the
    learning rate in the optimisers' param groups, the average's count), so the graph needs no
    Python number. ``options``: semisup_step's switches.
    """
    monitors = semisup_step(model, opt_d, opt_g, x_lab, y_lab, x_unl, **options)
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


# --------------------------------------------------------------------------------------------------
# the parameter average


def average_decay(decay: float, step: int, warmup: bool) -> float:
    """The average's decay at update ``step`` (0-based): ``decay``, or with warm-up min(decay, (1 + t)/(10 + t)).

    Why the warm-up: improved-GAN's rate 1e-4 (decay 0.9999) was set for ~600,000 steps; over a run
    of a few thousand steps it leaves the average at its starting weights. The warm-up (TF's
    ExponentialMovingAverage with ``num_updates``) lets the average follow the weights early and
    reach the configured decay only once the run is long enough for it.
    """
    return min(decay, (1.0 + step) / (AVERAGE_WARMUP + step)) if warmup else decay


def weight_on_first_half(decay: float, steps: int, warmup: bool) -> float:
    """How much of the final average still comes from before the run's midpoint (initial weights included).

    The average after ``steps`` updates gives the weights before the midpoint the product of the
    decays of the second half's updates. Above 0.5, the average evaluates mostly a model of the
    run's first half: the configured decay cannot move within the run.
    """
    return float(np.prod([average_decay(decay, t, warmup) for t in range(steps // 2, steps)]))


def warn_if_average_cannot_move(decay: float, steps: int, warmup: bool) -> bool:
    """Log one warning line where the average is stuck in the run's first half; True if it did."""
    stuck = weight_on_first_half(decay, steps, warmup)
    if stuck <= 0.5:
        return False
    largest = 0.5 ** (1.0 / max(1, steps - steps // 2))
    log.warning("semisup.ema_decay %g cannot move within %d steps: the final average keeps %.0f%% of its weight on the "
                "first half of training; use a decay of at most %.4g (or more steps)", decay, steps, 100 * stuck, largest)
    return True


class DiscriminatorAverage:
    """An exponential moving average of D's parameters, with the decay's warm-up (``average_decay``).

    The update count lives on the parameters' device and the rate is computed there, so that the
    update can run inside a captured CUDA graph (each replay advances the count). The rate is
    computed in float64, as ``average_decay`` computes it in Python, and rounded to the parameters'
    dtype, as a Python-number lerp weight is: the eager update is the one a float count gave.
    """

    def __init__(self, model: ImageALI, decay: float, warmup: bool = False):
        self.decay, self.warmup = decay, warmup
        self.shadow = [p.detach().clone() for p in model.discriminator_parameters()]
        self.count = torch.zeros((), dtype=torch.float64, device=self.shadow[0].device)  # updates so far

    @property
    def updates(self) -> int:
        return int(self.count.item())

    @updates.setter
    def updates(self, value: int) -> None:
        self.count.fill_(value)

    @torch.no_grad()
    def update(self, model: ImageALI) -> None:
        decay = torch.full_like(self.count, self.decay)
        if self.warmup:
            decay = torch.minimum(decay, (1.0 + self.count) / (AVERAGE_WARMUP + self.count))
        rate = (1.0 - decay).to(self.shadow[0].dtype)
        torch._foreach_lerp_(self.shadow, [p.detach() for p in model.discriminator_parameters()], rate)
        self.count.add_(1.0)

    def averaged_model(self, model: ImageALI) -> ImageALI:
        """A copy of ``model`` with the averaged D parameters (its batch-norm buffers still the live model's)."""
        averaged = copy.deepcopy(model)
        with torch.no_grad():
            for target, value in zip(averaged.discriminator_parameters(), self.shadow):
                target.copy_(value)
        return averaged.eval()


# --------------------------------------------------------------------------------------------------
# batch-norm statistics and evaluation


def training_shaped_forward(model: ImageALI, settings: SemisupSettings, x_lab: torch.Tensor, data: torch.Tensor,
                            device: torch.device) -> Callable[[int], None]:
    """``forward(k)``: batch k of the recomputation pass, shaped as a training step shapes it.

    ``bn_batch_size`` labelled (the labelled set tiled in a random order), unlabelled and prior draws
    from their own seeded stream. The encoder sees labelled and unlabelled images together, as in
    training. D sees the three groups as one batch (``joint``), the real pairs only (``separate``:
    in training each real group is normalised by real pairs' statistics, and test pairs are real),
    or the labelled pairs alone (supervised-only). The decoder runs where it ran in training.
    """
    size = settings.bn_batch_size
    latent = model.arch.latent_dim

    def forward(k: int) -> None:
        generator = generator_for(settings.seed, BN_PASSES, k)
        lab = torch.cat([torch.randperm(len(x_lab), generator=generator) for _ in range(-(-size // len(x_lab)))])[:size]
        unl = torch.randperm(len(data), generator=generator)[:size]
        eps = torch.randn(2 * size, latent, 1, 1, generator=generator).to(device)
        z = torch.randn(size, latent, 1, 1, generator=generator).to(device)
        xl, xu = x_lab[lab.to(device)].float() / 255.0, data[unl.to(device)].float() / 255.0
        z_hat = model.encode(torch.cat([xl, xu]), eps)
        if settings.supervised_only:
            model.discriminate(xl, z_hat[:size])
        elif settings.d_batchnorm == "separate":
            model.discriminate(torch.cat([xl, xu]), z_hat)
        else:
            model.discriminate(torch.cat([xl, xu, model.decoder(z)]), torch.cat([z_hat, z]))

    return forward


def with_recomputed_statistics(model: ImageALI, forward_for: Callable[[ImageALI], Callable[[int], None]],
                               n_batches: int) -> ImageALI:
    """A copy of ``model`` in eval mode whose batch-norm statistics are those of its own weights."""
    recomputed = batchnorm.recompute_statistics(model, forward_for(model), n_batches)
    copied = copy.deepcopy(model)
    copied.load_state_dict(batchnorm.with_statistics(copied.state_dict(), recomputed, "recomputed"))
    return copied.eval()


@torch.no_grad()
def classification_error(model: ImageALI, images: torch.Tensor, labels: torch.Tensor, seed: int, device: torch.device,
                         latent: str = "sampled", stream: int = 0, chunk: int = 500) -> float:
    """Share of ``images`` whose K-way prediction argmax_k l_k(x, z) is wrong.

    ``latent`` is the z beside x: ``sampled`` ẑ ~ q(z|x) (the released scripts' encoding),
    ``posterior_mean`` μ(x), or ``prior`` z ~ N(0, I), which shows what the encoder adds.
    """
    if latent not in LATENT_AT_TEST:
        raise ValueError(f"unknown latent {latent!r}; expected one of {', '.join(LATENT_AT_TEST)}")
    model.eval()
    generator = generator_for(seed, EVAL, stream)
    wrong = 0
    for start in range(0, len(images), chunk):
        x = images[start : start + chunk].to(device).float() / 255.0
        noise = torch.randn(len(x), model.arch.latent_dim, 1, 1, generator=generator).to(device)
        if latent == "prior":
            z = noise
        else:
            mu, log_sigma = model.posterior(x)
            z = mu if latent == "posterior_mean" else mu + log_sigma.exp() * noise
        predicted = model.discriminate(x, z).argmax(1).cpu()
        wrong += int((predicted != labels[start : start + chunk].cpu()).sum())
    return wrong / len(images)


def test_error(model: ImageALI, test: ImageSplit, seed: int, device: torch.device, chunk: int = 500) -> float:
    """Test error with ẑ sampled from q(z|x)."""
    return classification_error(model, test.images, test.labels, seed, device, chunk=chunk)


def evaluate(model: ImageALI, test: ImageSplit, x_lab: torch.Tensor, y_lab: torch.Tensor, seed: int,
             device: torch.device) -> dict[str, float]:
    """Test error for each latent at test, and the error on the labelled training set (ẑ sampled), evaluated alike."""
    errors = {f"test_error_{latent}": classification_error(model, test.images, test.labels, seed, device, latent, stream=i)
              for i, latent in enumerate(LATENT_AT_TEST)}
    errors["train_error"] = classification_error(model, x_lab, y_lab, seed, device, "sampled", stream=len(LATENT_AT_TEST))
    return errors


def evaluate_all(model: ImageALI, average: DiscriminatorAverage, settings: SemisupSettings, test: ImageSplit,
                 x_lab: torch.Tensor, y_lab: torch.Tensor, data: torch.Tensor, device: torch.device) -> dict:
    """Every evaluation the result file records: {averaged, live} weights × {recomputed, running} statistics."""
    forward_for = partial(training_shaped_forward, settings=settings, x_lab=x_lab, data=data, device=device)
    weights = {"averaged": average.averaged_model(model), "live": copy.deepcopy(model).eval()}
    results = {}
    for name, candidate in weights.items():
        recomputed = with_recomputed_statistics(candidate, forward_for, settings.bn_batches)
        results[name] = {
            "recomputed": evaluate(recomputed, test, x_lab, y_lab, settings.seed, device),
            "running": evaluate(candidate, test, x_lab, y_lab, settings.seed, device),
        }
    return results


def headline(result: dict, statistics: str, averaged: bool = True) -> dict[str, float]:
    """The evaluation a table reports: averaged (or live) weights with the ``statistics`` batch-norm statistics."""
    if statistics not in batchnorm.STATISTICS:
        raise ValueError(f"unknown batch-norm statistics {statistics!r}; expected one of {', '.join(batchnorm.STATISTICS)}")
    return result["evaluations"]["averaged" if averaged else "live"][statistics]


# --------------------------------------------------------------------------------------------------
# one run


def train_semisup(
    settings: SemisupSettings, unlabelled: ImageSplit, labelled_pool: ImageSplit, test: ImageSplit,
    out_path: str | Path, log_path: str | Path, checkpoint_path: str | Path, device: torch.device, progress: bool = True,
    record: dict | None = None, cuda_graphs: bool = True,
) -> dict:
    """Train one (dataset, labels, seed) run, resumably; evaluate it; write its result and log.
    ``record``: more keys for the result file (the CLI's data manifests). ``cuda_graphs``: on a GPU,
    replay the step (``semisup_train_step``) as a captured graph."""
    n_classes = int(labelled_pool.labels.max()) + 1
    if settings.n_labels % n_classes:
        raise ValueError(f"{settings.n_labels} labels do not split evenly over {n_classes} classes")
    chosen = balanced_labels(labelled_pool.labels.numpy(), settings.n_labels // n_classes, settings.seed)
    model = build(settings, n_classes, unlabelled).to(device)
    opt_d, opt_g = make_optimisers(model, settings, device, use_graph=cuda_graphs and device.type == "cuda")
    average = DiscriminatorAverage(model, settings.ema_decay, settings.ema_warmup)
    x_lab = labelled_pool.images[chosen].to(device)
    y_lab = labelled_pool.labels[chosen].to(device)
    data = unlabelled.images.to(device)
    batch = settings.batch_size
    steps = len(data) // batch
    warn_if_average_cannot_move(settings.ema_decay, steps * settings.epochs, settings.ema_warmup)
    step_fn = StepRunner(partial(semisup_train_step, model, opt_d, opt_g, average, supervised_only=settings.supervised_only,
                                 separate=settings.d_batchnorm == "separate", unlabelled_weight=settings.unlabelled_weight),
                         use_graph=cuda_graphs and device.type == "cuda")
    torch.manual_seed(seed_for(settings.seed, NOISE))

    def run_epoch(epoch: int) -> tuple[list[dict], dict]:
        factor = lr_factor(epoch, settings.epochs, settings.decay_fraction)
        set_learning_rate((opt_d, opt_g), settings.lr * factor)
        order = torch.randperm(len(data), generator=generator_for(settings.seed, ORDER, epoch)).to(device)
        labelled_order = torch.cat([torch.randperm(len(x_lab), generator=generator_for(settings.seed, LABELLED_ORDER, epoch, k))
                                    for k in range(steps * batch // len(x_lab) + 1)]).to(device)
        total = torch.zeros(len(MONITORS), device=device)
        for step in tqdm(range(steps), desc=f"epoch {epoch + 1}", leave=False, disable=not progress, mininterval=2):
            pick = labelled_order[step * batch : (step + 1) * batch]
            total += step_fn(x_lab[pick], y_lab[pick], data[order[step * batch : (step + 1) * batch]])
        means = dict(zip(MONITORS, (total / steps).tolist()))
        if not all(math.isfinite(v) for v in means.values()):
            raise TrainingDiverged(f"semi-supervised run {settings.dataset}, {settings.n_labels} labels, seed {settings.seed} "
                                   f"diverged in epoch {epoch + 1}; {checkpoint_note(checkpoint_path)}")
        return [{"epoch": epoch + 1, "lr": settings.lr * factor, **means}], {"loss_d": means["loss_d"], "train_error": means["train_error"]}

    def get_state() -> dict:
        state = {"model": model.state_dict(), "opt_d": opt_d.state_dict(), "opt_g": opt_g.state_dict(),
                 "average": average.shadow, "average_updates": average.updates, "rng": torch.get_rng_state()}
        if device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(device)
        return state

    def set_state(state: dict) -> None:
        model.load_state_dict(state["model"])
        groups = [group for opt in (opt_d, opt_g) for group in opt.param_groups]
        lrs = [group["lr"] for group in groups]  # the tensors the step reads (a captured step holds them)
        opt_d.load_state_dict(state["opt_d"])
        opt_g.load_state_dict(state["opt_g"])
        for group, lr in zip(groups, lrs):
            group["lr"] = lr
        with torch.no_grad():
            for mine, saved in zip(average.shadow, state["average"]):
                mine.copy_(saved)
        average.updates = state["average_updates"]
        torch.set_rng_state(state["rng"])
        if "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], device)

    from ali_bench.config import config_hash

    fingerprint = config_hash({**settings.__dict__, "n": len(data)})
    kind = "supervised-only" if settings.supervised_only else "ALI K+1"
    rows, wall = run_epochs(run_epoch, epochs=settings.epochs, checkpoint_path=checkpoint_path, checkpoint_every=1,
                            fingerprint=fingerprint, get_state=get_state, set_state=set_state,
                            desc=f"{kind} {settings.dataset} {settings.n_labels} labels seed {settings.seed}", progress=progress,
                            on_rows=partial(write_log, log_path, columns=("epoch", "lr", *MONITORS, "wall_time_s")))
    evaluations = evaluate_all(model, average, settings, test, x_lab, y_lab, data, device)
    result = {
        **settings.__dict__, "model": kind, "evaluations": evaluations,
        "average_weight_on_first_half": weight_on_first_half(settings.ema_decay, steps * settings.epochs, settings.ema_warmup),
        "test_examples": len(test), "unlabelled_examples": len(data), "labelled_indices": chosen.tolist(),
        "steps_per_epoch": steps, "steps": steps * settings.epochs, "wall_time_s": wall, "device": device_name(device),
        **(record or {}),
    }
    write_text(out_path, json.dumps(result, indent=1) + "\n")
    return result
