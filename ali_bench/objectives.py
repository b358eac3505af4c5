"""The adversarial losses, as small pure functions on discriminator logits.

docs/paper-vs-code.md §1 (``ALI.compute_losses`` in the released code): the discriminator returns a logit s; the
sigmoid of the paper's tables is folded into softplus terms. The generator uses the swapped-label
("non-saturating") objective of the paper's Eq. 4. Both losses come from the same forward pass.

Shapes: logits are (..., B); every loss is a mean over the last (batch) axis, so a batched stack
of models (M, B) gets one loss per model (M,).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def discriminator_loss(s_data: torch.Tensor, s_sample: torch.Tensor) -> torch.Tensor:
    """-log D(x, G_z(x)) - log(1 - D(G_x(z), z)), averaged over the batch."""
    return (F.softplus(-s_data) + F.softplus(s_sample)).mean(-1)


def generator_loss(s_data: torch.Tensor, s_sample: torch.Tensor) -> torch.Tensor:
    """-log(1 - D(x, G_z(x))) - log D(G_x(z), z): the labels swapped, averaged over the batch."""
    return (F.softplus(s_data) + F.softplus(-s_sample)).mean(-1)


def discriminator_accuracies(s_data: torch.Tensor, s_sample: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The released code's monitors: mean D(x, ẑ) on data pairs and mean 1 - D(x̃, z) on sample pairs."""
    return torch.sigmoid(s_data).mean(-1), (1 - torch.sigmoid(s_sample)).mean(-1)


def inverse_mapping_loss(z: torch.Tensor, z_hat: torch.Tensor) -> torch.Tensor:
    """||z - G_z(G_x(z))||², averaged over the batch: the learned inverse mapping of a GAN."""
    return ((z - z_hat) ** 2).sum(-1).mean(-1)


def gaussian_kl_to_standard_normal(mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) || N(0, I)) per example, summed over latent dimensions."""
    return 0.5 * (mu**2 + torch.exp(2 * log_sigma) - 1 - 2 * log_sigma).sum(-1)


def vae_negative_elbo(
    x: torch.Tensor, x_rec: torch.Tensor, mu: torch.Tensor, log_sigma: torch.Tensor, decoder_std: float
) -> torch.Tensor:
    """-ELBO with a Gaussian decoder of fixed std, one z sample per example, averaged over the batch."""
    dims = x.shape[-1]
    nll = (
        0.5 * ((x - x_rec) ** 2).sum(-1) / decoder_std**2
        + dims * math.log(decoder_std)
        + 0.5 * dims * math.log(2 * math.pi)
    )
    return (nll + gaussian_kl_to_standard_normal(mu, log_sigma)).mean(-1)
