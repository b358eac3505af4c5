"""Network architectures, one module per paper model; ``batched.py``: layers and Adam on a model axis (the toy's
runs trained as one)."""

from __future__ import annotations


def architecture_options(dataset: str, images_cfg) -> dict:
    """The per-dataset architecture switches of the config's ``images`` section (only CIFAR-10 has
    one: its D(x) biases), as ``image_architecture``'s options."""
    return {"dx_biases": images_cfg.cifar10_dx_biases} if dataset == "cifar10" else {}


def image_architecture(dataset: str, variant: str = "code", width: float = 1.0, **options):
    """The paper architecture that trains on ``dataset`` (its record's ``architecture``: digits uses
    SVHN's), scaled by ``width``.

    ``options``: the dataset's own architecture switches (CIFAR-10: ``dx_biases``).
    """
    import importlib

    from ali_bench.data.registry import DATASETS

    if dataset not in DATASETS:
        raise ValueError(f"no architecture for dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    module = importlib.import_module(f"ali_bench.nets.{DATASETS[dataset].architecture}")
    return module.architecture(variant, **options).scaled(width)
