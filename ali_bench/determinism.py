"""Deterministic GPU algorithms, on request (config key ``deterministic``).

Why an option and not the default: cuDNN's autotuner (``benchmark``) and atomics-based kernels are
what make the GPU steps fast, and they are why two runs of one seed on one GPU differ in the last
bits (and, through the adversarial game, later in more). A user who must repeat a training bit for
bit on the same GPU model, driver and torch turns them off here. CPU runs need nothing: with one
thread (what the workflow gives a CPU training job) a seed repeats exactly.
"""

from __future__ import annotations

import logging
import os

import torch

CUBLAS_WORKSPACE = ":4096:8"  # what cuBLAS needs for reproducible matmuls (CUDA >= 10.2)
log = logging.getLogger(__name__)


def configure(deterministic: bool, device: torch.device) -> None:
    """Set torch's algorithm choice for a training on ``device``; call before the first CUDA kernel.

    ``warn_only``: an operation with no deterministic CUDA kernel warns (in the job's log) instead
    of stopping a long run; the provenance records the setting either way.
    """
    if device.type != "cuda":
        return
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)
        log.info(
            "deterministic GPU algorithms: cuDNN benchmark off, CUBLAS_WORKSPACE_CONFIG=%s",
            os.environ["CUBLAS_WORKSPACE_CONFIG"],
        )
    else:
        torch.backends.cudnn.benchmark = True
