"""improved-GAN's permutation-invariant MNIST networks (``openai/improved-gan``,
``mnist_svhn_cifar10/train_mnist_feature_matching.py`` and ``nn.py``), the ``improved-gan-mlp``
choice of ``semisup.<dataset>.gan_fm_nets`` (docs/paper-vs-code.md §6).

Why it is here: the released convolutional networks cost ~46 s for the quick config's 96 digits
steps on a 2-core CPU; these fully connected ones are the released choice for small grey images
(MNIST, 28×28) and cost a fraction of that, so GAN-FM fits a CPU budget on digits (8×8 scaled to
32×32) and, later, Fashion-MNIST.

- D on the flattened image in [0, 1] (B, C·H·W): Gaussian noise σ 0.3 on the input; five
  weight-normalised dense layers of 1000, 500, 250, 250, 250 ReLU units, each followed by Gaussian
  noise σ 0.5; a weight-normalised dense layer to K logits (trained scale). The features G matches
  are the last 250-unit layer's output (``layers[-3]``: before its noise and the logits). The noise
  is on in training (including the data-dependent init pass), off at test.
- G: u ~ U(0, 1)^100 → two dense layers of 500 (no bias; batch norm without scale, on the batch's
  statistics; softplus) → a dense layer to C·H·W with its weight normalised per output unit
  (``nn.l2normalize``: trained scale from 1, no data-dependent init), sigmoid.
- Widths are scaled by ``width`` (1.0: the released sizes).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ali_bench.nets.improved_gan import NOISE_DIM, FeatureDiscriminator, ShiftOnlyBatchNorm, scaled
from ali_bench.nets.weight_norm import WeightNormLinear

D_UNITS = (1000, 500, 250, 250, 250)
G_UNITS = (500, 500)
INPUT_NOISE, HIDDEN_NOISE = 0.3, 0.5  # nn.GaussianNoiseLayer sigmas


class GaussianNoise(nn.Module):
    """improved-GAN's ``nn.GaussianNoiseLayer``: x + N(0, σ²) in training, x at test."""

    def __init__(self, sigma: float):
        super().__init__()
        self.sigma = sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.sigma * torch.randn_like(x) if self.training else x


def mlp_discriminator(image_shape: tuple[int, ...], width: float, n_classes: int) -> FeatureDiscriminator:
    """improved-GAN's MNIST D for images of ``image_shape`` (C, H, W) (torch's global RNG: seed it first)."""
    layers: list[nn.Module] = [nn.Flatten(1), GaussianNoise(INPUT_NOISE)]
    inputs = math.prod(image_shape)
    for i, units in enumerate(scaled(u, width) for u in D_UNITS):
        if i:
            layers.append(GaussianNoise(HIDDEN_NOISE))
        layers += [WeightNormLinear(inputs, units, train_scale=False), nn.ReLU()]
        inputs = units
    head = nn.Sequential(GaussianNoise(HIDDEN_NOISE), WeightNormLinear(inputs, n_classes, train_scale=True))
    return FeatureDiscriminator(nn.Sequential(*layers), head)


class MlpGenerator(nn.Module):
    """improved-GAN's MNIST G: u ~ U(0, 1)^100 → images of ``image_shape`` in [0, 1] (torch's global
    RNG: seed it first). Lasagne's DenseLayer default init: Glorot-uniform weights, zero biases."""

    def __init__(self, image_shape: tuple[int, ...], width: float):
        super().__init__()
        self.image_shape = tuple(image_shape)
        hidden: list[nn.Module] = []
        inputs = NOISE_DIM
        for units in (scaled(u, width) for u in G_UNITS):
            hidden += [nn.Linear(inputs, units, bias=False), ShiftOnlyBatchNorm(units), nn.Softplus()]
            inputs = units
        self.hidden = nn.Sequential(*hidden)
        self.out = nn.Linear(inputs, math.prod(image_shape))
        self.out_scale = nn.Parameter(torch.ones(math.prod(image_shape)))  # nn.l2normalize's W_scale
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def noise(self, n: int, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.rand(n, NOISE_DIM, generator=generator, device=device if generator is None else "cpu").to(device)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        v = self.out.weight  # (C·H·W, hidden): one row per output unit, normalised to norm out_scale
        weight = v * (self.out_scale / v.pow(2).sum(dim=1).add(1e-6).sqrt()).view(-1, 1)
        x = torch.sigmoid(F.linear(self.hidden(u), weight, self.out.bias))
        return x.view(len(u), *self.image_shape)
