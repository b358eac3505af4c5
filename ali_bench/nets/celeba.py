"""CelebA 64×64 (docs/paper-vs-code.md §3.3; ``experiments/ali_celeba.py``; paper Table 5). Leaky-ReLU slope 0.02.

Spatial sizes: encoder 64 → 63 → 29 → 13 → 4 → 1 → 1; decoder 1 → 4 → 13 → 29 → 63 → 64 → 64.

D(x) is where paper and code disagree:
- ``variant="code"`` (default): first D(x) conv with bias and no BN; 0.2 dropout on every D conv input.
- ``variant="paper"`` (Table 5): BN on every D(x) layer and no dropout on D(x); D(z) and joint as code.
"""

from __future__ import annotations

from ali_bench.nets.image import Architecture, Conv

LATENT = 256
P = 0.2


def architecture(variant: str = "code") -> Architecture:
    if variant not in ("code", "paper"):
        raise ValueError(f"unknown CelebA variant {variant!r}; expected code or paper")
    trunk = ((2, 1, 64), (7, 2, 128), (5, 2, 256), (7, 2, 256), (4, 1, 512))
    if variant == "code":
        dx = (Conv(2, 1, 64, bias=True, bn=False, dropout=P),) + tuple(
            Conv(k, s, c, dropout=P) for k, s, c in trunk[1:]
        )
    else:
        dx = tuple(Conv(k, s, c) for k, s, c in trunk)
    return Architecture(
        name="celeba",
        image_size=64,
        latent_dim=LATENT,
        leak=0.02,
        maxout_pieces=0,
        encoder=tuple(Conv(k, s, c) for k, s, c in trunk)
        + (Conv(1, 1, 2 * LATENT, bias=True, bn=False, activation="linear"),),
        decoder=(
            Conv(4, 1, 512, transpose=True),
            Conv(7, 2, 256, transpose=True),
            Conv(5, 2, 256, transpose=True),
            Conv(7, 2, 128, transpose=True),
            Conv(2, 1, 64, transpose=True),
            Conv(1, 1, 3, bn=False, activation="linear"),
        ),
        dx=dx,
        dz=(Conv(1, 1, 1024, bn=False, dropout=P), Conv(1, 1, 1024, bn=False, dropout=P)),
        joint=(
            Conv(1, 1, 2048, bias=True, bn=False, dropout=P),
            Conv(1, 1, 2048, bias=True, bn=False, dropout=P),
            Conv(1, 1, 1, bias=True, bn=False, activation="linear", dropout=P),
        ),
    )
