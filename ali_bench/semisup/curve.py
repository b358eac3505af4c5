"""The learning curve of a semi-supervised run: test-error points logged while it trains.

A table row is where a run ended; the curve (``semisup.evals_per_epoch`` points an epoch, in the
run's log; ``figures.py`` draws it) says how it got there. Points are evaluated on copies of the
model with noise of their own, so the training is the one it would have been without them.
"""

from __future__ import annotations

from functools import partial

import torch

from ali_bench.data.images import ImageSplit
from ali_bench.semisup import feature_matching
from ali_bench.semisup.average import DiscriminatorAverage
from ali_bench.semisup.evaluate import LATENT_AT_TEST, classification_error

CURVE = ("test_error", "test_error_live")  # the learning curve's columns in the run's log
CURVE_STREAM = len(LATENT_AT_TEST) + 1  # the curve's latent noise: a stream the final evaluation does not use


def segment_ends(steps: int, evals_per_epoch: int) -> set[int]:
    """The steps of an epoch (counted from 1) after which a log row ends: ``evals_per_epoch`` evenly
    spaced, the last at the epoch's end; one, at the end, for 0. Each row carries the mean monitors of
    its steps and, where evaluated, a point of the learning curve."""
    parts = max(evals_per_epoch, 1)
    return {round(steps * (i + 1) / parts) for i in range(parts)} - {0}


def curve_point(model, average: DiscriminatorAverage, test: ImageSplit, seed: int, device: torch.device, gan_fm: bool):
    """A point of the learning curve: the test error of D's averaged weights (``test_error``, what the
    run reports at the end, there with recomputed batch-norm statistics) and of its live ones, each
    with the running statistics. Copies are evaluated, and the latent noise has its own seeded
    stream: the training that goes on is the one it would have been without the curve."""
    copies = average.evaluated_copies(model)
    if gan_fm:
        error = partial(feature_matching.classification_error, images=test.images, labels=test.labels, device=device)
    else:
        error = partial(
            classification_error,
            images=test.images,
            labels=test.labels,
            seed=seed,
            device=device,
            latent="sampled",
            stream=CURVE_STREAM,
        )
    return {column: error(copies[weights]) for column, weights in zip(CURVE, ("averaged", "live"), strict=True)}
