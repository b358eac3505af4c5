"""Weight normalisation (Salimans & Kingma 2016) as improved-GAN's ``nn.weight_norm`` and (for its
MNIST networks) ``nn.DenseLayer``: layers whose weight is g · v / ‖v‖ per output unit, with
data-dependent initialisation of g and b.

Shared by the semi-supervised stage's weight-normalised D (``semisup.d_batchnorm: weightnorm``) and
improved-GAN's networks for the GAN-FM baseline (``nets/improved_gan.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

WEIGHTNORM_STD = 0.05  # improved-GAN's W = Normal(0.05) for the direction vectors
DENSE_STD = 0.1  # improved-GAN's nn.DenseLayer: theta = Normal(0.1)


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


class WeightNormConvTranspose2d(nn.Module):
    """A 5×5 stride-2 transposed conv that doubles H and W ("half" border), weight g · v / ‖v‖ per
    *output* channel (improved-GAN's ``weight_norm`` of a ``Deconv2DLayer``: sums over axes 0, 2, 3),
    with data-dependent init of g and b (``initialise``), as ``WeightNormConv2d``; g trains (the
    generator's output layer, improved-GAN's ``train_g=True``)."""

    def __init__(self, in_channels: int, out_channels: int, init_scale: float):
        super().__init__()
        self.direction = nn.Parameter(torch.empty(in_channels, out_channels, 5, 5).normal_(0.0, WEIGHTNORM_STD))
        self.scale = nn.Parameter(torch.ones(out_channels))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.init_scale = init_scale
        self.initialise = False

    def weight(self) -> torch.Tensor:
        norm = self.direction.pow(2).sum(dim=(0, 2, 3), keepdim=True).add(1e-6).sqrt()
        return self.direction * (self.scale.view(1, -1, 1, 1) / norm)

    def _conv(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return F.conv_transpose2d(x, self.weight(), bias, stride=2, padding=2, output_padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.initialise:
            with torch.no_grad():
                out = self._conv(x, None)
                mean = out.mean(dim=(0, 2, 3))
                inv_std = self.init_scale / (out - mean.view(1, -1, 1, 1)).pow(2).mean(dim=(0, 2, 3)).sqrt()
                self.scale.mul_(inv_std)
                self.bias.copy_(-mean * inv_std)
        return self._conv(x, self.bias)


class WeightNormLinear(nn.Module):
    """improved-GAN's ``nn.DenseLayer`` (its MNIST D): weight g · v / ‖v‖ per output unit, a bias, and
    the data-dependent init of one forward pass (``initialise``): g and b set so that this batch's
    pre-activations have mean 0 and standard deviation 1 per unit. As there, g trains only where
    ``train_scale`` (D's output layer); elsewhere it stays at its data-dependent value (a buffer).
    No epsilon under the norm, as ``nn.DenseLayer`` (``nn.weight_norm``'s convs add 1e-6)."""

    def __init__(self, in_features: int, out_features: int, train_scale: bool):
        super().__init__()
        self.direction = nn.Parameter(torch.empty(out_features, in_features).normal_(0.0, DENSE_STD))
        if train_scale:
            self.scale = nn.Parameter(torch.ones(out_features))
        else:
            self.register_buffer("scale", torch.ones(out_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.initialise = False

    def weight(self) -> torch.Tensor:
        return self.direction * (self.scale / self.direction.pow(2).sum(dim=1).sqrt()).view(-1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.initialise:
            with torch.no_grad():
                out = F.linear(x, self.weight())
                mean = out.mean(dim=0)
                inv_std = 1.0 / (out - mean).pow(2).mean(dim=0).sqrt()
                self.scale.mul_(inv_std)
                self.bias.copy_(-mean * inv_std)
        return F.linear(x, self.weight(), self.bias)
