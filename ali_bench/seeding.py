"""Random streams as pure functions of integers: every draw is fixed by (seed, tag, ...), never by
the order in which things run or the device they run on. Resuming, rerunning one seed alone and
moving between CPU and GPU therefore see the same data order and noise."""

from __future__ import annotations

import numpy as np
import torch


def seed_for(*words: int) -> int:
    """A 63-bit seed derived from integers: independent streams for distinct tuples."""
    state = np.random.SeedSequence(list(words)).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def generator_for(*words: int) -> torch.Generator:
    """A CPU torch.Generator seeded from ``words``."""
    return torch.Generator().manual_seed(seed_for(*words))
