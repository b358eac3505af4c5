"""Blocks' 2016 Adam parametrisation, and its translation into PyTorch's.

Why a 2016 beta is one minus PyTorch's, and where that was checked: docs/paper-vs-code.md,
"Conventions of 2016 libraries" (the one place it is explained). The remaining differences (Blocks
adds ε to sqrt(v) before the bias correction, and decays beta1 by 1 - 1e-8 per step) are far below
what training can see; ``tests/toy/test_blocks_adam.py`` runs both side by side.
"""

from __future__ import annotations


def pytorch_beta_from_blocks_2016(beta: float) -> float:
    """The PyTorch Adam beta (weight of the old moment) equal to a pre-2017 Blocks Adam beta."""
    if not 0.0 < beta <= 1.0:
        raise ValueError(f"a Blocks Adam beta must lie in (0, 1], got {beta}")
    return 1.0 - beta
