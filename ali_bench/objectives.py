"""The adversarial losses, as small pure functions on discriminator logits.

Reference §1 (``ALI.compute_losses`` in the released code): the discriminator returns a logit s; the
sigmoid of the paper's tables is folded into softplus terms. The generator uses the swapped-label
("non-saturating") objective of the paper's Eq. 4. Both losses come from the same forward pass.

Shapes: logits are (..., B); every loss is a mean over the last (batch) axis, so a batched stack
of models (M, B) gets one loss per model (M,).
"""

from __future__ import annotations

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
