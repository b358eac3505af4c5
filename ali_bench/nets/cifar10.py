"""CIFAR-10 (docs/paper-vs-code.md §3.2; ``experiments/ali_cifar10.py``; paper Table 3).

Generator nets: the SVHN tables with leaky-ReLU slope 0.1 and a 64-d latent. Discriminator: maxout
with 2 pieces (consecutive channels grouped), no BN, biased convs in D(x) and the joint net.

Dropout is where paper and code disagree:
- ``variant="code"`` (default, the released code's ``layers[2::3]`` indexing): 0.2 on the inputs of the
  first D(x) and D(z) convs; 0.5 on the input of D(x) conv 2, on conv 3's pre-maxout output and on
  the input of conv 5 (none before conv 4); 0.5 on the second D(z) input and every joint input.
- ``variant="paper"`` (Table 3): D(x) 0.2, 0.5, 0.5, 0.5, 0.5 on the conv inputs; D(z) 0.2, 0.5;
  joint 0.5 ×3.

D(x)'s conv biases (``dx_biases``; docs/paper-vs-code.md §2 "Biases"): its sequence never disables biases, so each
conv takes Blocks' default, which was *untied* (one bias per output channel and location) until
Blocks commit 3d51aebb of 2016-06-03 and *tied* (one per channel) after it. ``"tied"`` (default) is
what the Blocks development version the ALI README asks for gives from that date on; ``"untied"``
is what the CIFAR-10 runs had if they predate it (the released code does not say when they ran).
"""

from __future__ import annotations

from ali_bench.nets import svhn
from ali_bench.nets.image import Architecture, Conv

LATENT = 64


DX_BIASES = ("tied", "untied")


def architecture(variant: str = "code", dx_biases: str = "tied") -> Architecture:
    if variant not in ("code", "paper"):
        raise ValueError(f"unknown CIFAR-10 variant {variant!r}; expected code or paper")
    if dx_biases not in DX_BIASES:
        raise ValueError(f"unknown CIFAR-10 D(x) biases {dx_biases!r}; expected tied or untied")
    base = svhn.architecture()
    mx = dict(bias=True, bn=False, activation="maxout")
    dx_mx = dict(mx, untied_bias=dx_biases == "untied")
    if variant == "code":
        dx = (
            Conv(5, 1, 32, dropout=0.2, **dx_mx),
            Conv(4, 2, 64, dropout=0.5, **dx_mx),
            Conv(4, 1, 128, dropout_before_maxout=0.5, **dx_mx),
            Conv(4, 2, 256, **dx_mx),
            Conv(4, 1, 512, dropout=0.5, **dx_mx),
        )
    else:
        dx = (
            Conv(5, 1, 32, dropout=0.2, **dx_mx),
            Conv(4, 2, 64, dropout=0.5, **dx_mx),
            Conv(4, 1, 128, dropout=0.5, **dx_mx),
            Conv(4, 2, 256, dropout=0.5, **dx_mx),
            Conv(4, 1, 512, dropout=0.5, **dx_mx),
        )
    return Architecture(
        name="cifar10",
        image_size=32,
        latent_dim=LATENT,
        leak=0.1,
        maxout_pieces=2,
        encoder=base.encoder[:-1] + (Conv(1, 1, 2 * LATENT, bias=True, bn=False, activation="linear"),),
        decoder=base.decoder,
        dx=dx,
        dz=(
            Conv(1, 1, 512, bn=False, activation="maxout", dropout=0.2),
            Conv(1, 1, 512, bn=False, activation="maxout", dropout=0.5),
        ),
        joint=(
            Conv(1, 1, 1024, dropout=0.5, **mx),
            Conv(1, 1, 1024, dropout=0.5, **mx),
            Conv(1, 1, 1, bias=True, bn=False, activation="linear", dropout=0.5),
        ),
    )
