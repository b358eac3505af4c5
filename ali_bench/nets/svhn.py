"""SVHN (docs/paper-vs-code.md §3.1; ``experiments/ali_svhn.py``; paper Table 4). Also the digits architecture.

Spatial sizes (valid convs): encoder 32 → 28 → 13 → 10 → 4 → 1 → 1 → 1;
decoder 1 → 4 → 10 → 13 → 28 → 32 → 32 → 32. Paper and code agree on this model.
"""

from __future__ import annotations

from ali_bench.nets.image import Architecture, Conv

LATENT = 256
P = 0.2  # dropout on the input of every discriminator conv


def architecture(variant: str = "code") -> Architecture:
    del variant  # paper and code agree
    return Architecture(
        name="svhn",
        image_size=32,
        latent_dim=LATENT,
        leak=0.01,
        maxout_pieces=0,
        encoder=(
            Conv(5, 1, 32),
            Conv(4, 2, 64),
            Conv(4, 1, 128),
            Conv(4, 2, 256),
            Conv(4, 1, 512),
            Conv(1, 1, 512),
            Conv(1, 1, 2 * LATENT, bias=True, bn=False, activation="linear"),
        ),
        decoder=(
            Conv(4, 1, 256, transpose=True),
            Conv(4, 2, 128, transpose=True),
            Conv(4, 1, 64, transpose=True),
            Conv(4, 2, 32, transpose=True),
            Conv(5, 1, 32, transpose=True),
            Conv(1, 1, 32, transpose=True),
            Conv(1, 1, 3, bn=False, activation="linear"),
        ),
        dx=(
            Conv(5, 1, 32, bias=True, bn=False, dropout=P),
            Conv(4, 2, 64, dropout=P),
            Conv(4, 1, 128, dropout=P),
            Conv(4, 2, 256, dropout=P),
            Conv(4, 1, 512, dropout=P),
        ),
        dz=(Conv(1, 1, 512, bn=False, dropout=P), Conv(1, 1, 512, bn=False, dropout=P)),
        joint=(
            Conv(1, 1, 1024, bias=True, bn=False, dropout=P),
            Conv(1, 1, 1024, bias=True, bn=False, dropout=P),
            Conv(1, 1, 1, bias=True, bn=False, activation="linear", dropout=P),
        ),
    )
