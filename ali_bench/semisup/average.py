"""The exponential moving average of D's weights that a run's test error evaluates."""

from __future__ import annotations

import copy
import logging

import numpy as np
import torch

from ali_bench.nets.image import ImageALI

log = logging.getLogger(__name__)

AVERAGE_WARMUP = 10  # decay_t = min(decay, (1 + t) / (AVERAGE_WARMUP + t)), TF's num_updates rule


def average_decay(decay: float, step: int, warmup: bool) -> float:
    """The average's decay at update ``step`` (0-based): ``decay``, or with warm-up min(decay, (1 + t)/(10 + t)).

    Why the warm-up: improved-GAN's rate 1e-4 (decay 0.9999) was set for ~600,000 steps; over a run
    of a few thousand steps it leaves the average at its starting weights. The warm-up (TF's
    ExponentialMovingAverage with ``num_updates``) lets the average follow the weights early and
    reach the configured decay only once the run is long enough for it.
    """
    return min(decay, (1.0 + step) / (AVERAGE_WARMUP + step)) if warmup else decay


def weight_on_first_half(decay: float, steps: int, warmup: bool) -> float:
    """How much of the final average still comes from before the run's midpoint (initial weights included).

    The average after ``steps`` updates gives the weights before the midpoint the product of the
    decays of the second half's updates. Above 0.5, the average evaluates mostly a model of the
    run's first half: the configured decay cannot move within the run.
    """
    return float(np.prod([average_decay(decay, t, warmup) for t in range(steps // 2, steps)]))


def warn_if_average_cannot_move(decay: float, steps: int, warmup: bool) -> bool:
    """Log one warning line where the average is stuck in the run's first half; True if it did."""
    stuck = weight_on_first_half(decay, steps, warmup)
    if stuck <= 0.5:
        return False
    largest = 0.5 ** (1.0 / max(1, steps - steps // 2))
    log.warning(
        "semisup.ema_decay %g cannot move within %d steps: the final average keeps %.0f%% of its weight on the "
        "first half of training; use a decay of at most %.4g (or more steps)",
        decay,
        steps,
        100 * stuck,
        largest,
    )
    return True


class DiscriminatorAverage:
    """An exponential moving average of D's parameters, with the decay's warm-up (``average_decay``).

    The update count lives on the parameters' device and the rate is computed there, so that the
    update can run inside a captured CUDA graph (each replay advances the count). The rate is
    computed in float64, as ``average_decay`` computes it in Python, and rounded to the parameters'
    dtype, as a Python-number lerp weight is: the eager update is the one a float count gave.
    """

    def __init__(self, model: ImageALI, decay: float, warmup: bool = False):
        self.decay, self.warmup = decay, warmup
        self.shadow = [p.detach().clone() for p in model.discriminator_parameters()]
        self.count = torch.zeros((), dtype=torch.float64, device=self.shadow[0].device)  # updates so far

    @property
    def updates(self) -> int:
        return int(self.count.item())

    @updates.setter
    def updates(self, value: int) -> None:
        self.count.fill_(value)

    @torch.no_grad()
    def update(self, model: ImageALI) -> None:
        decay = torch.full_like(self.count, self.decay)
        if self.warmup:
            decay = torch.minimum(decay, (1.0 + self.count) / (AVERAGE_WARMUP + self.count))
        rate = (1.0 - decay).to(self.shadow[0].dtype)
        # one lerp_ per tensor: torch._foreach_lerp_ has no overload for a 0-d tensor weight and turns
        # it into a Python number, a host read a captured step may not make (tests/core/test_graph_safety.py)
        for shadow, param in zip(self.shadow, model.discriminator_parameters(), strict=True):
            shadow.lerp_(param.detach(), rate)
        self.count.add_(1.0)

    def evaluated_copies(self, model: ImageALI) -> dict[str, ImageALI]:
        """The two weights a run is evaluated with, as eval-mode copies: ``averaged`` (D's average)
        and ``live`` (the weights as trained); the training model itself is left untouched."""
        return {"averaged": self.averaged_model(model), "live": copy.deepcopy(model).eval()}

    def averaged_model(self, model: ImageALI) -> ImageALI:
        """A copy of ``model`` with the averaged D parameters (its batch-norm buffers still the live model's)."""
        averaged = copy.deepcopy(model)
        with torch.no_grad():
            for target, value in zip(averaged.discriminator_parameters(), self.shadow, strict=True):
                target.copy_(value)
        return averaged.eval()
