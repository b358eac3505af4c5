"""Conditional ALI (paper Sec. 4.4; docs/paper-vs-code.md §7; ``experiments/ali_celeba_conditional.py``).

A linear embedding e(y) = W y + b (40 binary CelebA attributes, or a 10-way one-hot digit class,
→ 256 channels at 1×1) is concatenated:
- to the encoder's trunk output, before its last 1×1 conv (the μ ‖ log σ head);
- to z, at the decoder's input;
- to D(x) ‖ D(z), at the joint discriminator's input (CelebA: 512 + 1024 + 256 = 1,792).
The same y conditions both halves of the discriminator's batch.

Who owns and trains the embedding (config key ``conditional.embedding``; docs/conditional.md):
- ``frozen``: the released code. One ``Embedder`` shared by the three nets, in neither
  optimiser's parameter list (``ConditionalALI.embedding_parameters`` exists but ``ali_algorithm``
  is given only the generator's and the discriminator's), so it stays at its N(0, 0.01) init.
- ``trained``: that shared embedding trained with the encoder and decoder. The generator then has
  every reason to make e(y) carry nothing the discriminator could use against it.
- ``separate``: the encoder and decoder share one embedding, trained with them; the discriminator
  has its own, trained with it, so D can learn to tell which y a pair belongs with.
"""

from __future__ import annotations

import torch
from torch import nn

from ali_bench.data.registry import DATASETS, accepted_by
from ali_bench.nets.image import (
    INIT_STD,
    Architecture,
    DecoderBiasAndDiscriminator,
    UntiedBias,
    build_stack,
    init_weights_,
)

EMBEDDING = 256  # NEMB in the released code
# y's size per dataset: CelebA's 40 attributes, a class as a one-hot (ali_bench/data/registry.py)
CONDITION_SIZES = {name: DATASETS[name].n_labels for name in accepted_by("conditional")}
EMBEDDINGS = ("frozen", "trained", "separate")


def condition_size(dataset: str) -> int:
    if dataset not in CONDITION_SIZES:
        raise ValueError(f"no conditional model for {dataset!r}; expected one of {', '.join(CONDITION_SIZES)}")
    return CONDITION_SIZES[dataset]


def condition_vectors(dataset: str, labels: torch.Tensor) -> torch.Tensor:
    """y as the model sees it: CelebA's 40 attributes in {0, 1}; a class (digits, Fashion-MNIST) as a one-hot."""
    if DATASETS[dataset].labels == "classes":
        return torch.nn.functional.one_hot(labels.long(), condition_size(dataset)).float()
    if labels.ndim != 2 or labels.shape[1] != condition_size(dataset):
        raise ValueError(f"{dataset} conditions must be (N, {condition_size(dataset)}), got {tuple(labels.shape)}")
    return labels.float()


class ConditionalALI(DecoderBiasAndDiscriminator, nn.Module):
    """The image ALI of ``arch`` whose three nets also see a linear embedding of the condition y."""

    def __init__(self, arch: Architecture, n_conditions: int, embedding: str = "trained", image_channels: int = 3):
        if embedding not in EMBEDDINGS:
            raise ValueError(f"unknown embedding mode {embedding!r}; expected one of {', '.join(EMBEDDINGS)}")
        super().__init__()
        self.arch, self.n_outputs, self.n_conditions, self.embedding_mode = arch, 1, n_conditions, embedding
        self.embed = nn.Linear(n_conditions, EMBEDDING)
        trunk, trunk_out = build_stack(arch.encoder[:-1], image_channels, arch.leak, arch.maxout_pieces)
        head, head_out = build_stack(arch.encoder[-1:], trunk_out + EMBEDDING, arch.leak, arch.maxout_pieces)
        assert head_out == 2 * arch.latent_dim
        self.encoder_trunk, self.encoder_head = trunk, head
        decoder, dec_out = build_stack(arch.decoder, arch.latent_dim + EMBEDDING, arch.leak, arch.maxout_pieces)
        assert dec_out == image_channels
        self.decoder_stack = nn.Sequential(*decoder, UntiedBias(image_channels, arch.image_size), nn.Sigmoid())
        self.dx, dx_out = build_stack(arch.dx, image_channels, arch.leak, arch.maxout_pieces, arch.image_size)
        self.dz, dz_out = build_stack(arch.dz, arch.latent_dim, arch.leak, arch.maxout_pieces)
        self.joint, joint_out = build_stack(arch.joint, dx_out + dz_out + EMBEDDING, arch.leak, arch.maxout_pieces)
        assert joint_out == 1
        init_weights_(self)
        with torch.no_grad():  # Blocks' Linear with IsotropicGaussian(0.01) weights, zero bias
            self.embed.weight.normal_(0.0, INIT_STD)
            self.embed.bias.zero_()
        if embedding == "frozen":
            self.embed.requires_grad_(False)
        # made last, so that the other modes' initial weights are the same draws with or without it
        self.embed_d = nn.Linear(n_conditions, EMBEDDING) if embedding == "separate" else None
        if self.embed_d is not None:
            with torch.no_grad():
                self.embed_d.weight.normal_(0.0, INIT_STD)
                self.embed_d.bias.zero_()

    @property
    def output_bias(self) -> nn.Parameter:
        return self.decoder_stack[-2].bias

    def embedding(self, y: torch.Tensor) -> torch.Tensor:
        """e(y), (B, 256, 1, 1), for conditions y (B, n_conditions) in {0, 1}."""
        return self.embed(y.float()).unsqueeze(-1).unsqueeze(-1)

    def generator_parameters(self) -> list[nn.Parameter]:
        own = [self.encoder_trunk, self.encoder_head, self.decoder_stack]
        params = [p for module in own for p in module.parameters()]
        return params + (list(self.embed.parameters()) if self.embedding_mode in ("trained", "separate") else [])

    def discriminator_parameters(self) -> list[nn.Parameter]:
        own = list(self.embed_d.parameters()) if self.embed_d is not None else []
        return super().discriminator_parameters() + own

    def discriminator_embedding(self, y: torch.Tensor) -> torch.Tensor:
        """What the joint discriminator sees of y: its own embedding (``separate``) or the shared one."""
        embed = self.embed_d if self.embed_d is not None else self.embed
        return embed(y.float()).unsqueeze(-1).unsqueeze(-1)

    def posterior_given(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_sigma = self.encoder_head(torch.cat([self.encoder_trunk(x), self.embedding(y)], dim=1)).chunk(2, dim=1)
        return mu, log_sigma

    def encode_given(self, x: torch.Tensor, y: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        mu, log_sigma = self.posterior_given(x, y)
        return mu + log_sigma.exp() * eps

    def decode_given(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.decoder_stack(torch.cat([z, self.embedding(y)], dim=1))

    def discriminate_given(self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.joint(torch.cat([self.dx(x), self.dz(z), self.discriminator_embedding(y)], dim=1)).flatten()

    def logits_given(self, x, z, eps, y) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits on (x, G_z(x, y), y) and (G_x(z, y), z, y): one discriminator pass, the same y for both."""
        batch = x.shape[0]
        z_hat = self.encode_given(x, y, eps)
        x_tilde = self.decode_given(z, y)
        scores = self.discriminate_given(torch.cat([x, x_tilde]), torch.cat([z_hat, z]), torch.cat([y, y]))
        return scores[:batch], scores[batch:]

    def given(self, y: torch.Tensor) -> Conditioned:
        return Conditioned(self, y)


class Conditioned:
    """A ConditionalALI with y fixed: what ``adversarial_step`` trains (it calls ``logits(x, z, eps)``)."""

    def __init__(self, model: ConditionalALI, y: torch.Tensor):
        self.model, self.y = model, y

    def logits(self, x, z, eps):
        return self.model.logits_given(x, z, eps, self.y)

    def generator_parameters(self):
        return self.model.generator_parameters()

    def discriminator_parameters(self):
        return self.model.discriminator_parameters()
