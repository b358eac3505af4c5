"""improved-GAN's semi-supervised networks (Salimans et al. 2016, ``openai/improved-gan``,
``mnist_svhn_cifar10/train_{cifar,svhn}_feature_matching.py`` and ``nn.py``), and the ALI-network
alternative, as the GAN-FM baseline uses them (``ali_bench/semisup/feature_matching.py``;
docs/paper-vs-code.md §6).

- D on x alone: dropout 0.2 on the input; three 3×3 convs (the third stride 2), dropout 0.5; three
  3×3 convs at twice the channels (the third stride 2), dropout 0.5; a 3×3 valid conv, two 1×1 (NIN)
  layers, a global mean pool: the features (B, F) that G matches (``disc_layers[-2]``); a linear
  layer to K logits. Leaky ReLU 0.2; every layer weight-normalised, no batch norm; only the output
  layer trains its scale (init 0.1). Channels 64/128 (SVHN, and digits) or 96/192 (CIFAR-10).
- G: u ~ U(0, 1)^100 → linear to 512×4×4 → 5×5 transposed convs (stride 2) to 256@8×8, 128@16×16
  (batch norm without scale, on the batch's statistics, ReLU) → 3@32×32, weight-normalised (init
  0.1, trained scale), tanh: inputs in [−1, 1].
- ``improved-gan-mlp``: its MNIST networks, in ``nets/improved_gan_mlp.py``.
- ``ali``: ALI's D(x) stack, weight-normalised without batch norm, and a weight-normalised 1×1 layer
  to K logits; ALI's decoder on z ~ N(0, I); inputs in [0, 1].
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ali_bench.data.registry import DATASETS
from ali_bench.nets import image_architecture
from ali_bench.nets.image import ImageALI
from ali_bench.nets.weight_norm import WEIGHTNORM_STD, WeightNormConv2d, WeightNormConvTranspose2d, weight_normalised

GAN_FM_NETS = ("improved-gan-conv", "improved-gan-mlp", "ali")
NOISE_DIM = 100  # improved-GAN: noise_dim = (batch_size, 100), uniform
LEAK = 0.2  # improved-GAN's nn.lrelu
BN_EPS = 1e-6  # improved-GAN's BatchNormLayer: sqrt(1e-6 + var)
# (first, second) block channels of improved-GAN's D, per paper architecture; a dataset takes its
# record's (digits and Fashion-MNIST: SVHN's, as for their image ALI)
D_CHANNELS = {"svhn": (64, 128), "cifar10": (96, 192)}
G_CHANNELS = (512, 256, 128)


def scaled(channels: int, width: float) -> int:
    """Channels or units times ``width``, at least 1 (both of improved-GAN's network families)."""
    return max(1, int(round(channels * width)))


# --------------------------------------------------------------------------------------------------
# improved-GAN's building blocks (nn.py)


class ShiftOnlyBatchNorm(nn.Module):
    """improved-GAN's ``nn.batch_norm(..., g=None)``: the batch's own statistics always, no scale, a
    learnt shift. Why always the batch's: improved-GAN never runs G deterministically (its running
    averages are computed but never applied), so a sample's normalisation is its batch's."""

    def __init__(self, features: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = (0,) if x.dim() == 2 else (0, 2, 3)
        mean = x.mean(dim=dims, keepdim=True)
        var = (x - mean).pow(2).mean(dim=dims, keepdim=True)
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return (x - mean) / torch.sqrt(var + BN_EPS) + self.bias.view(shape)


def _wn_conv(
    in_channels: int,
    out_channels: int,
    kernel: int,
    stride: int,
    padding: int,
    init_scale: float = 1.0,
    train_scale: bool = False,
) -> WeightNormConv2d:
    return WeightNormConv2d(nn.Conv2d(in_channels, out_channels, kernel, stride, padding), init_scale, train_scale)


def _normal_init(module: nn.Module) -> None:
    """Lasagne's ``W=Normal(0.05)`` and zero biases for G's plain layers."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, WEIGHTNORM_STD)


# --------------------------------------------------------------------------------------------------
# the two networks


class FeatureDiscriminator(nn.Module):
    """D on x alone: ``trunk`` to the matched features (B, F), ``head`` from them to K logits (B, K)."""

    def __init__(self, trunk: nn.Module, head: nn.Module):
        super().__init__()
        self.trunk, self.head = trunk, head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x).flatten(1)  # (B, F)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(x)
        return self.head(features), features  # (B, K), (B, F)


class PointwiseHead(nn.Module):
    """A 1×1 conv (improved-GAN's weight-normalised output layer on the pooled features) applied to
    (B, F) features: (B, F) → (B, K)."""

    def __init__(self, conv: WeightNormConv2d):
        super().__init__()
        self.conv = conv

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.conv(features[:, :, None, None]).flatten(1)


def improved_gan_discriminator(dataset: str, width: float, n_classes: int) -> FeatureDiscriminator:
    """improved-GAN's D for ``dataset`` (torch's global RNG: seed it first)."""
    first, second = (scaled(c, width) for c in D_CHANNELS[DATASETS[dataset].architecture])
    lrelu = nn.LeakyReLU(LEAK)
    layers: list[nn.Module] = [nn.Dropout(0.2)]
    for i, (c_in, c_out) in enumerate([(3, first), (first, first), (first, first)]):
        layers += [_wn_conv(c_in, c_out, 3, 2 if i == 2 else 1, 1), lrelu]
    layers.append(nn.Dropout(0.5))
    for i, (c_in, c_out) in enumerate([(first, second), (second, second), (second, second)]):
        layers += [_wn_conv(c_in, c_out, 3, 2 if i == 2 else 1, 1), lrelu]
    layers.append(nn.Dropout(0.5))
    layers += [
        _wn_conv(second, second, 3, 1, 0),
        lrelu,
        _wn_conv(second, second, 1, 1, 0),
        lrelu,
        _wn_conv(second, second, 1, 1, 0),
        lrelu,
        nn.AdaptiveAvgPool2d(1),
    ]
    return FeatureDiscriminator(
        nn.Sequential(*layers), PointwiseHead(_wn_conv(second, n_classes, 1, 1, 0, 0.1, train_scale=True))
    )


class ImprovedGanGenerator(nn.Module):
    """improved-GAN's G: u ~ U(0, 1)^100 → 3×32×32 in [−1, 1] (torch's global RNG: seed it first)."""

    def __init__(self, width: float):
        super().__init__()
        c0, c1, c2 = (scaled(c, width) for c in G_CHANNELS)
        self.c0 = c0
        self.dense = nn.Linear(NOISE_DIM, c0 * 16, bias=False)
        self.bn0 = ShiftOnlyBatchNorm(c0 * 16)
        self.up = nn.Sequential(
            nn.ConvTranspose2d(c0, c1, 5, stride=2, padding=2, output_padding=1, bias=False),
            ShiftOnlyBatchNorm(c1),
            nn.ReLU(),
            nn.ConvTranspose2d(c1, c2, 5, stride=2, padding=2, output_padding=1, bias=False),
            ShiftOnlyBatchNorm(c2),
            nn.ReLU(),
        )
        self.out = WeightNormConvTranspose2d(c2, 3, init_scale=0.1)
        _normal_init(self)

    def noise(self, n: int, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.rand(n, NOISE_DIM, generator=generator, device=device if generator is None else "cpu").to(device)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn0(self.dense(u))).view(len(u), self.c0, 4, 4)
        return torch.tanh(self.out(self.up(h)))


class AliDecoderGenerator(nn.Module):
    """ALI's decoder G_x(z) on z ~ N(0, I): the ``gan_fm_nets: ali`` generator, pixels in [0, 1]."""

    def __init__(self, ali: ImageALI):
        super().__init__()
        self.decoder, self.latent = ali.decoder, ali.arch.latent_dim

    def noise(self, n: int, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.latent, 1, 1, generator=generator, device=device if generator is None else "cpu").to(
            device
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)


class FeatureMatchingGAN(nn.Module):
    """D and G of one GAN-FM run, with the parameter groups the stage's optimisers and average take."""

    def __init__(
        self, discriminator: FeatureDiscriminator, generator: nn.Module, signed_inputs: bool, squared_matching: bool
    ):
        super().__init__()
        self.discriminator, self.generator = discriminator, generator
        self.signed_inputs = signed_inputs  # improved-GAN's [-1, 1]; ALI's nets and the MLP take [0, 1]
        # the generator's loss on the feature means' difference: squared (the MNIST script) or absolute (the others)
        self.squared_matching = squared_matching

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images as the nets take them."""
        x = images.float() / 255.0
        return 2.0 * x - 1.0 if self.signed_inputs else x

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return list(self.discriminator.parameters())

    def generator_parameters(self) -> list[nn.Parameter]:
        return list(self.generator.parameters())


def gan_fm_networks(
    nets: str, dataset: str, variant: str, width: float, n_classes: int, images_for_bias: torch.Tensor
) -> FeatureMatchingGAN:
    """GAN-FM's D and G at their random initialisation (torch's global RNG: seed it first), before
    the data-dependent init. ``images_for_bias``: uint8 training images (B, C, H, W): their shape
    sizes the MLP's input and output, their mean the ALI decoder's output bias (``ali`` nets)."""
    if nets == "improved-gan-conv":
        return FeatureMatchingGAN(
            improved_gan_discriminator(dataset, width, n_classes),
            ImprovedGanGenerator(width),
            signed_inputs=True,
            squared_matching=False,
        )
    if nets == "improved-gan-mlp":
        # imported here: the MLP module builds on this one's blocks (FeatureDiscriminator, ShiftOnlyBatchNorm)
        from ali_bench.nets.improved_gan_mlp import MlpGenerator, mlp_discriminator

        shape = tuple(images_for_bias.shape[1:])
        return FeatureMatchingGAN(
            mlp_discriminator(shape, width, n_classes),
            MlpGenerator(shape, width),
            signed_inputs=False,
            squared_matching=True,
        )
    if nets == "ali":
        ali = ImageALI(image_architecture(dataset, variant, width))
        ali.init_output_bias(images_for_bias.float() / 255.0)
        trunk = weight_normalised(copy.deepcopy(ali.dx), None)
        with torch.no_grad():
            n_features = trunk(torch.zeros(2, 3, ali.arch.image_size, ali.arch.image_size)).flatten(1).shape[1]
        head = PointwiseHead(_wn_conv(n_features, n_classes, 1, 1, 0, 0.1, train_scale=True))
        return FeatureMatchingGAN(
            FeatureDiscriminator(trunk, head), AliDecoderGenerator(ali), signed_inputs=False, squared_matching=False
        )
    raise ValueError(f"config key 'semisup.{dataset}.gan_fm_nets': {nets!r}; expected one of {', '.join(GAN_FM_NETS)}")
