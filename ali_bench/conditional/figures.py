"""The conditional generation figures (paper Fig. 7; docs/paper-vs-code.md §7): one z, the conditions varied.

CelebA: rows I-IV fix (male, attractive, young), (male, attractive, older), (female, attractive,
young), (female, attractive, older); columns a-l add, as the paper's caption lists them:
(a) nothing; (b) black hair; (c) brown hair; (d) blond hair; (e) black hair, wavy hair; (f) blond
hair, bangs; (g) blond hair, receding hairline; (h) blond hair, balding; (i) black hair, smiling;
(j) black hair, smiling, mouth slightly open; (k) (j) + eyeglasses; (l) (k) + wearing hat.
Every attribute not named is 0. Digits (embedded): one z per row, the ten classes across.
"""

from __future__ import annotations

import torch

from ali_bench.data.celeba import ATTRIBUTES as CELEBA_ATTRIBUTES
from ali_bench.nets.conditional import ConditionalALI
from ali_bench.seeding import generator_for

CELEBA_ROWS = (
    ("I", "male, attractive, young", ("Male", "Attractive", "Young")),
    ("II", "male, attractive, older", ("Male", "Attractive")),
    ("III", "female, attractive, young", ("Attractive", "Young")),
    ("IV", "female, attractive, older", ("Attractive",)),
)
CELEBA_COLUMNS = (
    ("a", "unchanged", ()),
    ("b", "black hair", ("Black_Hair",)),
    ("c", "brown hair", ("Brown_Hair",)),
    ("d", "blond hair", ("Blond_Hair",)),
    ("e", "black + wavy hair", ("Black_Hair", "Wavy_Hair")),
    ("f", "blond + bangs", ("Blond_Hair", "Bangs")),
    ("g", "blond + receding hairline", ("Blond_Hair", "Receding_Hairline")),
    ("h", "blond + balding", ("Blond_Hair", "Bald")),
    ("i", "black hair + smiling", ("Black_Hair", "Smiling")),
    ("j", "+ mouth slightly open", ("Black_Hair", "Smiling", "Mouth_Slightly_Open")),
    ("k", "+ eyeglasses", ("Black_Hair", "Smiling", "Mouth_Slightly_Open", "Eyeglasses")),
    ("l", "+ wearing hat", ("Black_Hair", "Smiling", "Mouth_Slightly_Open", "Eyeglasses", "Wearing_Hat")),
)
FIGURE_Z = 40


def attribute_vector(names: tuple[str, ...]) -> torch.Tensor:
    """The 40-attribute y with exactly ``names`` set to 1."""
    y = torch.zeros(len(CELEBA_ATTRIBUTES))
    for name in names:
        y[CELEBA_ATTRIBUTES.index(name)] = 1.0
    return y


def celeba_conditions() -> torch.Tensor:
    """(4, 12, 40): the y of every cell of the paper's grid."""
    return torch.stack(
        [torch.stack([attribute_vector(row + col) for _, _, col in CELEBA_COLUMNS]) for _, _, row in CELEBA_ROWS]
    )


@torch.no_grad()
def celeba_grid(model: ConditionalALI, seed: int) -> torch.Tensor:
    """(48, 3, 64, 64): the decoded grid for one fixed z, row by row."""
    model.eval()
    z = torch.randn(1, model.arch.latent_dim, 1, 1, generator=generator_for(seed, FIGURE_Z))
    y = celeba_conditions().flatten(0, 1)
    return model.decode_given(z.expand(len(y), -1, -1, -1), y)


@torch.no_grad()
def class_grid(model: ConditionalALI, seed: int, rows: int = 8, classes: int = 10) -> torch.Tensor:
    """(rows · classes, 3, H, W): one z per row, decoded with each class (digits, Fashion-MNIST)."""
    model.eval()
    z = torch.randn(rows, model.arch.latent_dim, 1, 1, generator=generator_for(seed, FIGURE_Z))
    y = torch.eye(classes).repeat(rows, 1)
    return model.decode_given(z.repeat_interleave(classes, dim=0), y)
