"""GAN with feature matching (Salimans et al. 2016): improved-GAN's K+1 model, the paper's baseline.

The ALI paper quotes "GAN (FM)" beside its K+1 numbers (Tables 1-2); this module trains it with the
stage's own data, labelled subsets, averaging and evaluation, so that the quoted row has a measured
one beside it. Every detail is transcribed from ``openai/improved-gan``'s
``mnist_svhn_cifar10/train_{cifar,svhn}_feature_matching.py`` and ``nn.py``
(docs/paper-vs-code.md §6, "GAN with feature matching"):

- **The networks** (``ali_bench/nets/improved_gan.py``): improved-GAN's D on x alone, ending in K
  logits (the (K+1)-th fixed at 0, the losses of ``model.py``), weight-normalised without batch
  norm, its global-pool output the features G matches; its G from uniform noise, in [−1, 1].
- **One step** (``gan_fm_step``): D's update on a labelled, an unlabelled and a generated batch,
  each its own pass (dropout masks of its own), loss ``loss_lab + unlabelled_weight · loss_unl``;
  then G's update against the *updated* D on a second unlabelled batch (its own permutation of the
  data) and fresh noise: ``mean |E f(x_unl2) − E f(G(u))|`` (an L1 mean of the difference of
  feature means, improved-GAN's ``loss_gen``). Adam(3e-4, β1 0.5) for both.

``gan_fm_nets: ali`` swaps in the ALI paper's image networks instead (ALI's D(x) stack and decoder),
so that GAN-FM and ALI's K+1 differ in their training only.
"""

from __future__ import annotations

import torch
from torch import nn

from ali_bench.nets.improved_gan import FeatureMatchingGAN, gan_fm_networks
from ali_bench.nets.weight_norm import WeightNormConv2d, WeightNormConvTranspose2d, WeightNormLinear
from ali_bench.seeding import generator_for, seed_for
from ali_bench.semisup.model import labelled_loss, unlabelled_loss
from ali_bench.semisup.settings import INIT, WN_INIT, SemisupSettings

INIT_BATCH = 500  # improved-GAN: init_param(trainx[:500])


def _weightnorm_layers(module: nn.Module) -> list[nn.Module]:
    return [
        m for m in module.modules() if isinstance(m, (WeightNormConv2d, WeightNormConvTranspose2d, WeightNormLinear))
    ]


@torch.no_grad()
def initialise(model: FeatureMatchingGAN, x: torch.Tensor, u: torch.Tensor) -> None:
    """improved-GAN's data-dependent init: one pass of G on a noise batch and of D on ``x`` (dropout on)."""
    layers = _weightnorm_layers(model)
    for layer in layers:
        layer.initialise = True
    try:
        model.generator(u)
        model.discriminator(x)
    finally:
        for layer in layers:
            layer.initialise = False


def build_gan_fm(
    settings: SemisupSettings, n_classes: int, x_lab: torch.Tensor, unlabelled: torch.Tensor
) -> FeatureMatchingGAN:
    """The seeded GAN-FM model, after improved-GAN's data-dependent init: D on 500 images and G on one
    batch of noise. The 500 images are those of the script behind the networks: the labelled set
    tiled for the convolutional nets (the SVHN and CIFAR-10 scripts' ``trainx[:500]`` after tiling),
    500 random training images for the MLP (the MNIST script's ``trainx[:500]`` of the shuffled
    training set). ``unlabelled``: the uint8 unlabelled pool (its first 500 also set the ALI
    decoder's output bias, ``gan_fm_nets: ali``)."""
    torch.manual_seed(seed_for(settings.seed, INIT))
    model = gan_fm_networks(
        settings.gan_fm_nets, settings.dataset, settings.variant, settings.width, n_classes, unlabelled[:INIT_BATCH]
    )
    generator = generator_for(settings.seed, WN_INIT)
    if settings.gan_fm_nets == "improved-gan-mlp":
        batch = unlabelled[torch.randperm(len(unlabelled), generator=generator)[:INIT_BATCH]]
    else:
        tiles = -(-INIT_BATCH // len(x_lab))
        tiled = torch.cat([torch.randperm(len(x_lab), generator=generator) for _ in range(tiles)])
        batch = x_lab[tiled[:INIT_BATCH]]
    model.train()
    initialise(
        model, model.inputs(batch.cpu()), model.generator.noise(settings.batch_size, torch.device("cpu"), generator)
    )
    return model


# --------------------------------------------------------------------------------------------------
# losses and one step


def feature_matching_loss(
    features_real: torch.Tensor, features_generated: torch.Tensor, squared: bool = False
) -> torch.Tensor:
    """improved-GAN's ``loss_gen``: mean over features of |mean_batch f(x) − mean_batch f(G(u))| (the
    SVHN and CIFAR-10 scripts), or of its square (``squared``: the MNIST script)."""
    difference = features_real.mean(dim=0) - features_generated.mean(dim=0)
    return difference.pow(2).mean() if squared else difference.abs().mean()


def gan_fm_step(
    model: FeatureMatchingGAN,
    opt_d,
    opt_g,
    x_lab: torch.Tensor,
    y_lab: torch.Tensor,
    x_unl: torch.Tensor,
    x_unl2: torch.Tensor,
    unlabelled_weight: float = 1.0,
) -> torch.Tensor:
    """One improved-GAN step on uint8 batches: D's update, then G's against the updated D.

    Returns (loss_d, loss_lab, loss_unl, loss_g, train_error), the stage's MONITORS (loss_g is the
    feature-matching loss). The generated batch D sees is drawn without G's graph: D's update moves
    D alone, as improved-GAN's ``train_batch_disc``.
    """
    d, g = model.discriminator, model.generator
    device = x_unl.device
    x_lab, x_unl, x_unl2 = model.inputs(x_lab), model.inputs(x_unl), model.inputs(x_unl2)
    with torch.no_grad():
        x_gen = g(g.noise(len(x_unl), device))
    logits_lab, _ = d(x_lab)
    logits_unl, _ = d(x_unl)
    logits_gen, _ = d(x_gen)
    loss_lab = labelled_loss(logits_lab, y_lab)
    loss_unl = unlabelled_loss(logits_unl, logits_gen)
    loss_d = loss_lab + unlabelled_weight * loss_unl
    d_params = model.discriminator_parameters()
    for param, grad in zip(d_params, torch.autograd.grad(loss_d, d_params), strict=True):
        param.grad = grad
    opt_d.step()

    features_real = d.features(x_unl2).detach()
    features_generated = d.features(g(g.noise(len(x_unl2), device)))
    loss_g = feature_matching_loss(features_real, features_generated, model.squared_matching)
    g_params = model.generator_parameters()
    for param, grad in zip(g_params, torch.autograd.grad(loss_g, g_params), strict=True):
        param.grad = grad
    opt_g.step()
    train_error = (logits_lab.argmax(1) != y_lab).float().mean()
    return torch.stack([loss_d.detach(), loss_lab.detach(), loss_unl.detach(), loss_g.detach(), train_error])


# --------------------------------------------------------------------------------------------------
# evaluation


@torch.no_grad()
def classification_error(
    model: FeatureMatchingGAN, images: torch.Tensor, labels: torch.Tensor, device: torch.device, chunk: int = 500
) -> float:
    """Share of ``images`` whose K-way prediction argmax_k l_k(x) is wrong (dropout off)."""
    model.eval()
    wrong = 0
    for start in range(0, len(images), chunk):
        logits, _ = model.discriminator(model.inputs(images[start : start + chunk].to(device)))
        wrong += int((logits.argmax(1).cpu() != labels[start : start + chunk].cpu()).sum())
    return wrong / len(images)


def evaluate_all(
    model: FeatureMatchingGAN, average, test, x_lab: torch.Tensor, y_lab: torch.Tensor, device: torch.device
) -> dict:
    """The averaged and the live D's test and labelled-set errors, laid out as the K+1 runs' evaluations.

    D has no batch norm (either choice of nets), so "recomputed" and "running" statistics are one
    and the same evaluation, recorded under both keys; D sees x alone, so ``test_error_sampled`` is
    its error and there is no posterior-mean or prior-z variant (the table leaves those empty).
    """
    results = {}
    for name, candidate in average.evaluated_copies(model).items():
        errors = {
            "test_error_sampled": classification_error(candidate, test.images, test.labels, device),
            "train_error": classification_error(candidate, x_lab, y_lab, device),
        }
        results[name] = {"recomputed": errors, "running": dict(errors)}
    model.train()
    return results
