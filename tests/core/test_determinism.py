"""Config key ``deterministic``: what it sets for a CUDA training, and that CPU runs are left alone."""

from __future__ import annotations

import os

import pytest
import torch

from ali_bench import determinism


@pytest.fixture
def restore_torch_flags(monkeypatch):
    saved = (
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    yield
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[0], saved[1]
    torch.use_deterministic_algorithms(saved[2], warn_only=saved[3])


def test_deterministic_cuda_training_turns_off_the_autotuner_and_nondeterministic_kernels(restore_torch_flags):
    # torch.device("cuda") exists without a GPU; configure only sets flags, it runs no kernel
    determinism.configure(True, torch.device("cuda"))
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == determinism.CUBLAS_WORKSPACE


def test_default_cuda_training_keeps_the_fast_path(restore_torch_flags):
    determinism.configure(False, torch.device("cuda"))
    assert torch.backends.cudnn.benchmark and not torch.are_deterministic_algorithms_enabled()
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ


def test_cpu_training_is_left_alone(restore_torch_flags):
    torch.backends.cudnn.benchmark = False
    determinism.configure(True, torch.device("cpu"))
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.benchmark
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ


def test_the_provenance_records_the_choice(restore_torch_flags):
    from ali_bench import provenance

    assert provenance.machine()["deterministic_algorithms"] is False
    determinism.configure(True, torch.device("cuda"))
    assert provenance.machine()["deterministic_algorithms"] is True
