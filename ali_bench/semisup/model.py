"""The K+1-class model: losses on D's logits, improved-GAN's weight-normalised D, one training step.

D's joint net ends in K logits l; the (K+1)-th, "generated", logit is fixed at 0, so
Z(x, z) = logsumexp(l) is the logit of "real" (the stage's docstring, ``ali_bench/semisup/__init__.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ali_bench.data.images import ImageSplit
from ali_bench.nets import image_architecture
from ali_bench.nets.image import ImageALI
from ali_bench.nets.weight_norm import WeightNormConv2d, weight_normalised
from ali_bench.objectives import generator_loss
from ali_bench.seeding import generator_for, seed_for
from ali_bench.semisup.settings import INIT, WN_INIT, SemisupSettings

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
# improved-GAN's weight-normalised D (the layers: ali_bench/nets/weight_norm.py)


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


def discriminate_groups(
    model: ImageALI, xs: list[torch.Tensor], zs: list[torch.Tensor], separate: bool
) -> list[torch.Tensor]:
    """D's logits for each group of pairs: one joint batch (its batch norm mixes the groups) or one pass each."""
    if separate:
        return [model.discriminate(x, z) for x, z in zip(xs, zs, strict=True)]
    logits = model.discriminate(torch.cat(xs), torch.cat(zs))
    return list(logits.split([len(x) for x in xs]))


def semisup_step(
    model: ImageALI,
    opt_d,
    opt_g,
    x_lab: torch.Tensor,
    y_lab: torch.Tensor,
    x_unl: torch.Tensor,
    supervised_only: bool = False,
    separate: bool = False,
    unlabelled_weight: float = 1.0,
) -> torch.Tensor:
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
            model, [x_lab, x_unl, x_tilde], [z_hat[:n_lab], z_hat[n_lab:], z], separate
        )
        loss_lab = labelled_loss(logits_lab, y_lab)
        loss_unl = unlabelled_loss(logits_unl, logits_gen)
        loss_d = loss_lab + unlabelled_weight * loss_unl
        loss_g = encoder_decoder_loss(logits_unl, logits_gen)
    # both gradient sets from the same graph, before either optimiser moves a parameter
    d_params = model.discriminator_parameters()
    grads_d = torch.autograd.grad(loss_d, d_params, retain_graph=not supervised_only)
    if not supervised_only:
        g_params = model.generator_parameters()
        for param, grad in zip(g_params, torch.autograd.grad(loss_g, g_params), strict=True):
            param.grad = grad
    for param, grad in zip(d_params, grads_d, strict=True):
        param.grad = grad
    opt_d.step()
    if not supervised_only:
        opt_g.step()
    train_error = (logits_lab.argmax(1) != y_lab).float().mean()
    return torch.stack([loss_d.detach(), loss_lab.detach(), loss_unl.detach(), loss_g.detach(), train_error])
