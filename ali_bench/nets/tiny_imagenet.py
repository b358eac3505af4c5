"""Tiny ImageNet 64×64 (docs/paper-vs-code.md §3.4; ``experiments/ali_tiny_imagenet.py``; paper Table 6).

Spatial sizes: encoder 64 → 31 → 28 → 13 → 10 → 4 → 1 → 1 → 1 → 1;
decoder 1 → 1 → 1 → 4 → 10 → 13 → 28 → 31 → 64 → 64. D(z) convs have biases here (unlike the
other models). Paper and code agree on the layers; they disagree on the epochs (config).
"""

from __future__ import annotations

from ali_bench.nets.image import Architecture, Conv

LATENT = 256
P = 0.2


def architecture(variant: str = "code") -> Architecture:
    del variant  # paper and code agree on the layers
    trunk = ((4, 2, 64), (4, 1, 64), (4, 2, 128), (4, 1, 128), (4, 2, 256), (4, 1, 256))
    return Architecture(
        name="tiny_imagenet",
        image_size=64,
        latent_dim=LATENT,
        leak=0.01,
        maxout_pieces=0,
        encoder=tuple(Conv(k, s, c) for k, s, c in trunk)
        + (Conv(1, 1, 2048), Conv(1, 1, 2048), Conv(1, 1, 2 * LATENT, bias=True, bn=False, activation="linear")),
        decoder=(
            Conv(1, 1, 2048, transpose=True),
            Conv(1, 1, 256, transpose=True),
            Conv(4, 1, 256, transpose=True),
            Conv(4, 2, 128, transpose=True),
            Conv(4, 1, 128, transpose=True),
            Conv(4, 2, 64, transpose=True),
            Conv(4, 1, 64, transpose=True),
            Conv(4, 2, 64, transpose=True),
            Conv(1, 1, 3, bn=False, activation="linear"),
        ),
        dx=(Conv(4, 2, 64, bias=True, bn=False, dropout=P),) + tuple(Conv(k, s, c, dropout=P) for k, s, c in trunk[1:]),
        dz=(Conv(1, 1, 2048, bias=True, bn=False, dropout=P), Conv(1, 1, 2048, bias=True, bn=False, dropout=P)),
        joint=(
            Conv(1, 1, 4096, bias=True, bn=False, dropout=P),
            Conv(1, 1, 4096, bias=True, bn=False, dropout=P),
            Conv(1, 1, 1, bias=True, bn=False, activation="linear", dropout=P),
        ),
    )
