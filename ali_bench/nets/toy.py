"""The toy experiment's networks (docs/paper-vs-code.md §8, ``experiments/ali_mixture.py``).

- Encoder G_z: MLP on concat(x, ε), ε ~ N(0, I): a "change-of-variables" conditional, not a Gaussian
  μ/σ head. Hidden layers are Linear (no bias) → BN → ReLU; the output layer is linear with bias.
- Decoder G_x: the same kind of MLP from z to x, deterministic.
- Discriminator: LinearMaxout layers (units × pieces, consecutive units grouped, as Blocks does) and a
  linear logit; no BN, no dropout. ALI's sees concat(x, z); the GAN's sees x alone.
- Init: every weight N(0, init_std), biases 0, BN γ = 1, β = 0.

Every layer is built either as a plain PyTorch layer (one model) or as its batched twin with a
leading model axis (``n_models`` models trained at once, see ``ali_bench.nets.batched``). The two
share parameter names, so a batched state dict is the stack of the single ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ali_bench.config import ToyNetworkConfig
from ali_bench.nets.batched import BatchedBatchNorm1d, BatchedLinear

DATA_DIM = 2


@dataclass(frozen=True)
class Layer:
    """One layer of an MLP: ``kind`` is linear, bn, relu or maxout."""

    kind: str
    size: int = 0  # output features (linear), channels (bn), pieces (maxout)
    in_features: int = 0
    bias: bool = True


def generator_mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int) -> list[Layer]:
    layers, width = [], in_dim
    for size in hidden:
        layers += [Layer("linear", size, width, bias=False), Layer("bn", size), Layer("relu")]
        width = size
    return layers + [Layer("linear", out_dim, width, bias=True)]


def maxout_discriminator(in_dim: int, units: int, n_layers: int, pieces: int) -> list[Layer]:
    layers, width = [], in_dim
    for _ in range(n_layers):
        layers += [Layer("linear", units * pieces, width, bias=True), Layer("maxout", pieces)]
        width = units
    return layers + [Layer("linear", 1, width, bias=True)]


class Maxout(nn.Module):
    """Max over groups of ``pieces`` consecutive features: (..., U·P) -> (..., U).

    ``max().values`` rather than ``amax``: the gradient goes to one winner per group (amax splits it
    over ties, which real-valued activations almost never have) and its backward is much cheaper.
    """

    def __init__(self, pieces: int):
        super().__init__()
        self.pieces = pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (-1, self.pieces)).max(-1).values


def build_mlp(layers: list[Layer], net: ToyNetworkConfig, n_models: int | None) -> nn.Sequential:
    """An nn.Sequential of ``layers``; batched (leading model axis) when ``n_models`` is given."""
    modules: list[nn.Module] = []
    for layer in layers:
        if layer.kind == "linear":
            if n_models is None:
                modules.append(nn.Linear(layer.in_features, layer.size, bias=layer.bias))
            else:
                modules.append(BatchedLinear(n_models, layer.in_features, layer.size, bias=layer.bias))
        elif layer.kind == "bn":
            if n_models is None:
                modules.append(nn.BatchNorm1d(layer.size, eps=net.bn_eps, momentum=net.bn_momentum))
            else:
                modules.append(BatchedBatchNorm1d(n_models, layer.size, eps=net.bn_eps, momentum=net.bn_momentum))
        elif layer.kind == "relu":
            modules.append(nn.ReLU())
        elif layer.kind == "maxout":
            modules.append(Maxout(layer.size))
        else:  # pragma: no cover - programming error
            raise ValueError(f"unknown layer kind {layer.kind!r}")
    return nn.Sequential(*modules)


def init_weights_(module: nn.Module, std: float, generator: torch.Generator) -> None:
    """Weights = std · N(0, 1) draws, biases 0, on every nn.Linear in module order.

    Drawing unit-variance directions and scaling them means two runs that share a seed but not an
    init std start from the same directions (the released and random hyperparameter sets).
    """
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * std)
                if layer.bias is not None:
                    layer.bias.zero_()


class ToyGAN(nn.Module):
    """Decoder + discriminator on x."""

    kind = "gan"

    def __init__(self, net: ToyNetworkConfig, n_models: int | None = None):
        super().__init__()
        self.net = net
        self.decoder = build_mlp(generator_mlp(net.latent_dim, net.decoder_hidden, DATA_DIM), net, n_models)
        self.discriminator = build_mlp(self._discriminator_layers(net), net, n_models)

    @staticmethod
    def _discriminator_layers(net: ToyNetworkConfig) -> list[Layer]:
        return maxout_discriminator(DATA_DIM, net.discriminator_units, net.discriminator_layers, net.maxout_pieces)

    def generator_parameters(self) -> list[nn.Parameter]:
        return list(self.decoder.parameters())

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return list(self.discriminator.parameters())

    def logits(self, x: torch.Tensor, z: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Discriminator logits on data and on samples, (..., B) each; ``eps`` is unused."""
        batch = x.shape[-2]
        x_tilde = self.decoder(z)
        # real and generated through D as one batch, as the released code does
        scores = self.discriminator(torch.cat([x, x_tilde], dim=-2)).squeeze(-1)
        return scores[..., :batch], scores[..., batch:]


class ToyALI(ToyGAN):
    """Encoder + decoder + discriminator on (x, z)."""

    kind = "ali"

    def __init__(self, net: ToyNetworkConfig, n_models: int | None = None):
        super().__init__(net, n_models)
        self.encoder = build_mlp(
            generator_mlp(DATA_DIM + net.latent_dim, net.encoder_hidden, net.latent_dim), net, n_models
        )

    @staticmethod
    def _discriminator_layers(net: ToyNetworkConfig) -> list[Layer]:
        return maxout_discriminator(
            DATA_DIM + net.latent_dim, net.discriminator_units, net.discriminator_layers, net.maxout_pieces
        )

    def generator_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters()) + list(self.decoder.parameters())

    def encode(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return self.encoder(torch.cat([x, eps], dim=-1))

    def logits(self, x: torch.Tensor, z: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = x.shape[-2]
        z_hat = self.encode(x, eps)
        x_tilde = self.decoder(z)
        pairs = torch.cat([torch.cat([x, z_hat], dim=-1), torch.cat([x_tilde, z], dim=-1)], dim=-2)
        scores = self.discriminator(pairs).squeeze(-1)
        return scores[..., :batch], scores[..., batch:]


TOY_MODELS = {"ali": ToyALI, "gan": ToyGAN}


class PostHocALI(ToyALI):
    """A trained GAN's decoder, frozen, with a new encoder and a new (x, z) discriminator.

    Trained with the ALI objective (paper Sec. 2.3, "post-hoc learned inference"): the generator
    loss moves only the encoder. The frozen decoder stays in eval mode (BN population statistics),
    so it is exactly the generator the GAN run ended with.
    """

    kind = "posthoc"

    def __init__(self, net: ToyNetworkConfig, decoder_state: dict[str, torch.Tensor]):
        super().__init__(net)
        self.decoder.load_state_dict(decoder_state)
        self.decoder.requires_grad_(False)

    def generator_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())

    def train(self, mode: bool = True) -> PostHocALI:
        super().train(mode)
        self.decoder.eval()
        return self


class ToyVAE(nn.Module):
    """A VAE with the toy's encoder and decoder: the encoder maps x (not x, ε) to (μ, log σ) of q(z|x)."""

    kind = "vae"

    def __init__(self, net: ToyNetworkConfig):
        super().__init__()
        self.net = net
        self.encoder = build_mlp(generator_mlp(DATA_DIM, net.encoder_hidden, 2 * net.latent_dim), net, None)
        self.decoder = build_mlp(generator_mlp(net.latent_dim, net.decoder_hidden, DATA_DIM), net, None)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_sigma = self.encoder(x).chunk(2, dim=-1)
        return mu, log_sigma

    def encode(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """ẑ ~ q(z|x) by reparameterisation: μ + σ ε."""
        mu, log_sigma = self.posterior(x)
        return mu + log_sigma.exp() * eps
