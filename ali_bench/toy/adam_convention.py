"""Blocks' 2016 Adam parametrisation, and its translation into PyTorch's.

Why: the released toy script (``experiments/ali_mixture.py``, 2016) asks for Blocks
``Adam(learning_rate=1e-4, beta1=0.8)``. Until 2017-01-24 (mila-iqia/blocks commit aa064519, "Updated
moment parametrization to v8 of the adam paper") Blocks' ``Adam.compute_step`` weighted the *new*
gradient by beta1 and beta2 (checked in Blocks 1bc1fc14 of 2016-05-31 and c45d2b70)::

    m <- beta1 g + (1 - beta1) m            v <- beta2 g² + (1 - beta2) v

PyTorch (and Blocks after that commit) weights the *old* moment by them, so the 2016 code's beta1 0.8
is PyTorch's 0.2, and its beta2 0.001 is PyTorch's 0.999. The remaining differences (Blocks adds ε
to sqrt(v) before the bias correction, and decays beta1 by 1 - 1e-8 per step) are far below what
training can see; ``tests/test_blocks_adam.py`` runs both side by side.
"""

from __future__ import annotations


def pytorch_beta_from_blocks_2016(beta: float) -> float:
    """The PyTorch Adam beta (weight of the old moment) equal to a pre-2017 Blocks Adam beta."""
    if not 0.0 < beta <= 1.0:
        raise ValueError(f"a Blocks Adam beta must lie in (0, 1], got {beta}")
    return 1.0 - beta
