"""The image ALI model, built from a layer table (one table per paper architecture, in nets/<name>.py).

Conventions of the released code (docs/paper-vs-code.md §2), kept here so each table stays a transcription:
- convolutions use valid padding; a transposed conv's output is s·(i−1)+k (PyTorch, padding 0);
- weights N(0, 0.01), biases 0; BN γ = 1, β = 0, eps 1e-4, population statistics with momentum 0.05;
- the encoder outputs μ ‖ log σ (log standard deviation) and ẑ = μ + σ ⊙ ε;
- the decoder ends in a 1×1 conv without bias, then an untied per-pixel, per-channel bias (3, H, W)
  initialised to the log-odds of the mean training image, then a sigmoid: pixels in [0, 1];
- dropout (inverted) is applied to the *inputs* of the listed discriminator convs, training only;
- the discriminator sees data and sample pairs as one concatenated batch, so D(x)'s BN statistics
  mix real and generated images, while the encoder's BN sees only x and the decoder's only z.

Every module is a flat nn.Sequential like Blocks' layer lists, so layer indices (for the SVM
features of issue 5) mean what they meant in the released code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

BN_EPS, BN_MOMENTUM, INIT_STD = 1e-4, 0.05, 0.01


@dataclass(frozen=True)
class Conv:
    """One conv layer of a table row: kernel k, stride s, output channels (before any maxout)."""

    kernel: int
    stride: int
    channels: int
    transpose: bool = False
    bias: bool = False
    untied_bias: bool = False  # with bias: one per output channel *and location* (Blocks' tied_biases=False)
    bn: bool = True
    activation: str = "lrelu"  # lrelu | maxout | linear
    dropout: float = 0.0  # on the conv's input
    dropout_before_maxout: float = 0.0  # on the conv's output, before its maxout (CIFAR-10 code quirk)


@dataclass(frozen=True)
class Architecture:
    """A paper architecture: the five layer tables and the settings that go with them."""

    name: str
    image_size: int
    latent_dim: int
    leak: float  # leaky-ReLU slope, every net
    maxout_pieces: int  # 0: no maxout
    encoder: tuple[Conv, ...]  # ends with the μ ‖ log σ head (2·latent channels, linear, bias)
    decoder: tuple[Conv, ...]  # ends with the 1×1 conv to 3 channels (linear, no bias; untied bias after)
    dx: tuple[Conv, ...]
    dz: tuple[Conv, ...]
    joint: tuple[Conv, ...]  # ends with the 1×1 conv to 1 logit (linear, bias)

    def scaled(self, width: float) -> Architecture:
        """The same tables with every hidden channel count × ``width`` (quick configs); 1.0 = the paper."""
        if width == 1.0:
            return self
        multiple = max(self.maxout_pieces, 1)

        def scale(layers: tuple[Conv, ...], keep_last: bool) -> tuple[Conv, ...]:
            out = []
            for i, layer in enumerate(layers):
                if keep_last and i == len(layers) - 1:
                    out.append(layer)
                    continue
                channels = max(multiple, int(round(layer.channels * width / multiple)) * multiple)
                out.append(replace(layer, channels=channels))
            return tuple(out)

        return replace(
            self,
            encoder=scale(self.encoder, True),
            decoder=scale(self.decoder, True),
            dx=scale(self.dx, False),
            dz=scale(self.dz, False),
            joint=scale(self.joint, True),
        )


class ChannelMaxout(nn.Module):
    """Max over groups of ``pieces`` consecutive channels: (B, C·P, H, W) -> (B, C, H, W) (Blocks' ConvMaxout)."""

    def __init__(self, pieces: int):
        super().__init__()
        self.pieces = pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(1, (-1, self.pieces)).max(2).values


class UntiedBias(nn.Module):
    """A bias per output pixel and channel, (C, H, W): the decoder's last layer in the released code,
    and Blocks' ``Convolutional(tied_biases=False)`` in general."""

    def __init__(self, channels: int, size: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels, size, size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias


def output_size(layer: Conv, size: int) -> int:
    """Spatial size after ``layer`` with valid padding: (i − k) // s + 1, or s·(i − 1) + k transposed."""
    return layer.stride * (size - 1) + layer.kernel if layer.transpose else (size - layer.kernel) // layer.stride + 1


def build_stack(
    layers: tuple[Conv, ...], in_channels: int, leak: float, pieces: int, in_size: int | None = None
) -> tuple[nn.Sequential, int]:
    """A flat nn.Sequential of the table rows, and its output channel count.

    ``in_size``: the input's spatial size, needed only by layers with untied biases (their shape).
    """
    modules: list[nn.Module] = []
    channels, size = in_channels, in_size
    for layer in layers:
        if layer.dropout:
            modules.append(nn.Dropout(layer.dropout))
        conv = nn.ConvTranspose2d if layer.transpose else nn.Conv2d
        modules.append(
            conv(channels, layer.channels, layer.kernel, layer.stride, bias=layer.bias and not layer.untied_bias)
        )
        channels = layer.channels
        size = output_size(layer, size) if size is not None else None
        if layer.bias and layer.untied_bias:
            if size is None:
                raise ValueError("a layer with untied biases needs the stack's input size")
            modules.append(UntiedBias(channels, size))
        if layer.bn:
            modules.append(nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM))
        if layer.dropout_before_maxout:
            modules.append(nn.Dropout(layer.dropout_before_maxout))
        if layer.activation == "lrelu":
            modules.append(nn.LeakyReLU(leak))
        elif layer.activation == "maxout":
            modules.append(ChannelMaxout(pieces))
            channels //= pieces
        elif layer.activation != "linear":
            raise ValueError(f"unknown activation {layer.activation!r}")
    return nn.Sequential(*modules), channels


def init_weights_(module: nn.Module, std: float = INIT_STD) -> None:
    """N(0, std) conv weights and zero biases (torch's global RNG: seed it first); BN keeps γ=1, β=0."""
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
                layer.weight.normal_(0.0, std)
                if layer.bias is not None:
                    layer.bias.zero_()


def log_odds(mean_image: torch.Tensor) -> torch.Tensor:
    """logit(m) with m clipped to [1e-7, 1 - 1e-7] (``ali.utils.get_log_odds``)."""
    m = mean_image.clamp(1e-7, 1 - 1e-7)
    return torch.log(m / (1 - m))


class DecoderBiasAndDiscriminator:
    """What image ALI and conditional ALI share: D's three stacks (``dx``, ``dz``, ``joint``) and the
    decoder's untied output bias (each model's ``output_bias`` says where it sits)."""

    output_bias: nn.Parameter
    dx: nn.Module
    dz: nn.Module
    joint: nn.Module

    def init_output_bias(self, images: torch.Tensor) -> None:
        """Set the decoder's untied bias to the log-odds of the mean of ``images`` (B, C, H, W) in [0, 1]."""
        with torch.no_grad():
            self.output_bias.copy_(log_odds(images.float().mean(0)))

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return list(self.dx.parameters()) + list(self.dz.parameters()) + list(self.joint.parameters())


class ImageALI(DecoderBiasAndDiscriminator, nn.Module):
    """Encoder G_z, decoder G_x and the three-part discriminator D(x, z) of one architecture."""

    def __init__(self, arch: Architecture, image_channels: int = 3, n_classes: int | None = None):
        """``n_classes``: give the joint discriminator K logits instead of one (the K+1-class model)."""
        super().__init__()
        if n_classes is not None:
            arch = replace(arch, joint=arch.joint[:-1] + (replace(arch.joint[-1], channels=n_classes),))
        self.arch = arch
        self.n_outputs = n_classes or 1
        self.encoder, enc_out = build_stack(arch.encoder, image_channels, arch.leak, arch.maxout_pieces)
        assert enc_out == 2 * arch.latent_dim, "the encoder head must output μ ‖ log σ"
        decoder, dec_out = build_stack(arch.decoder, arch.latent_dim, arch.leak, arch.maxout_pieces)
        assert dec_out == image_channels
        self.decoder = nn.Sequential(*decoder, UntiedBias(image_channels, arch.image_size), nn.Sigmoid())
        self.dx, dx_out = build_stack(arch.dx, image_channels, arch.leak, arch.maxout_pieces, arch.image_size)
        self.dz, dz_out = build_stack(arch.dz, arch.latent_dim, arch.leak, arch.maxout_pieces)
        self.joint, joint_out = build_stack(arch.joint, dx_out + dz_out, arch.leak, arch.maxout_pieces)
        assert joint_out == self.n_outputs
        init_weights_(self)

    @property
    def output_bias(self) -> nn.Parameter:
        return self.decoder[-2].bias

    def generator_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters()) + list(self.decoder.parameters())

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """μ and log σ of q(z|x), each (B, latent, 1, 1)."""
        mu, log_sigma = self.encoder(x).chunk(2, dim=1)
        return mu, log_sigma

    def encode(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """ẑ = μ + σ ⊙ ε: encoding by sampling, as the released scripts do."""
        mu, log_sigma = self.posterior(x)
        return mu + log_sigma.exp() * eps

    def discriminate(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """D's logit for each (x, z) pair, (B,); or its K class logits, (B, K), for the K+1-class model."""
        out = self.joint(torch.cat([self.dx(x), self.dz(z)], dim=1)).flatten(1)
        return out.squeeze(1) if self.n_outputs == 1 else out

    def logits(self, x: torch.Tensor, z: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits on data pairs (x, G_z(x)) and sample pairs (G_x(z), z), from one discriminator pass."""
        batch = x.shape[0]
        z_hat = self.encode(x, eps)
        x_tilde = self.decoder(z)
        scores = self.discriminate(torch.cat([x, x_tilde]), torch.cat([z_hat, z]))
        return scores[:batch], scores[batch:]
