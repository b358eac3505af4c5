"""Device choice: the code picks its own device (Snakemake's gpu resource is only a token)."""

from __future__ import annotations

import torch

from ali_bench.config import ConfigError


def resolve_device(choice: str) -> torch.device:
    """Map the config's ``device`` (auto | cpu | cuda) to a torch.device, failing clearly."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config key 'device' is 'cuda' but torch sees no CUDA GPU; use 'auto' or 'cpu'")
    return torch.device(choice)


def device_name(device: torch.device) -> str:
    """A human-readable name for provenance: the GPU model, or the CPU with its thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
