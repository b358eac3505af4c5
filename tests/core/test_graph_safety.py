"""The steps a GPU replays as CUDA graphs never read a device value on the host (checked on the CPU).

Why: while a step is being captured, CUDA refuses any copy of a value to the host (``.item()``,
``float(tensor)``, a tensor turned into a Python number for an op's Scalar argument, ``nonzero``,
a boolean mask): "operation not permitted when stream is capturing", at the fourth step of the
first GPU run. The CPU runs the very functions a GPU captures, so a dispatch trace of one eager
step here finds each such read (ATen's ``_local_scalar_dense``) before a GPU run does.
torch.optim.Adam is left out of the trace: its CPU path reads its step count on the host by design,
and on a GPU the harness builds it fused and capturable (``capturable=True``), which reads none.

The same step runs with the default device set to ``meta``, which catches a second GPU-only fault:
a tensor the step makes without naming a device. On a GPU that tensor is a CPU one among CUDA
tensors (an error, or for a 0-d one a value that capture freezes into the graph); here it is a meta
tensor, and meeting the CPU inputs raises "Tensor on device meta is not on the expected device".
"""

from functools import partial

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode, _disable_current_modes

from ali_bench.config import load_config
from ali_bench.data.images import load_split
from ali_bench.images import train as image_train
from ali_bench.nets import image_architecture
from ali_bench.nets.conditional import EMBEDDINGS, condition_vectors
from ali_bench.nets.image import ImageALI
from ali_bench.semisup import average as semisup_average
from ali_bench.semisup import settings as semisup_settings
from ali_bench.semisup import train as semisup_train
from ali_bench.toy.runs import plan_runs
from ali_bench.toy.train import build_group

HOST_READS = {"_local_scalar_dense", "nonzero", "item", "is_nonzero", "equal"}
TINY_IMAGES = {"digits": {"epochs": 1, "width": 0.125}}


class HostReads(TorchDispatchMode):
    """Records every ATen call that brings a device value to the host."""

    def __init__(self):
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.__name__.split(".")[0] in HOST_READS:
            self.seen.append(str(func))
        return func(*args, **(kwargs or {}))


def _untraced(*optimizers: torch.optim.Optimizer) -> None:
    for optimizer in optimizers:
        step = optimizer.step

        def untraced(*args, _step=step, **kwargs):
            with _disable_current_modes():
                return _step(*args, **kwargs)

        optimizer.step = untraced


def _host_reads(step, *inputs) -> list[str]:
    """The host reads of a second step, made on the default device ``meta`` (module docstring)."""
    step(*inputs)  # a first step outside the trace, as the GPU's warm-up steps are
    with HostReads() as trace, torch.device("meta"):
        step(*inputs)
    return trace.seen


@pytest.mark.parametrize("kind", ["ali", "gan"])
def test_the_toy_step_reads_nothing_on_the_host(tiny_config, kind):
    """The whole toy step of each model's group, its BatchedAdam update included (the harness's own
    optimiser)."""
    cfg = tiny_config.toy
    runs = [run for run in plan_runs(cfg, "random") if run.model == kind]
    group = build_group(cfg, runs, torch.device("cpu"), torch.float32, cuda_graphs=False)
    inputs = [
        torch.randn(len(runs), cfg.training.batch_size, d) for d in (2, cfg.network.latent_dim, cfg.network.latent_dim)
    ]
    assert _host_reads(group.step, *inputs) == []


def test_the_image_and_conditional_steps_read_nothing_on_the_host():
    full = load_config({"device": "cpu", "images": TINY_IMAGES})
    train = load_split("digits", "train", "unused")
    x = train.images[:16]
    plain = image_train.make_trainer("digits", full.images, train, torch.device("cpu"), cuda_graphs=False)
    y = condition_vectors("digits", train.labels[:16])
    conditionals = [
        image_train.make_trainer(
            "digits",
            full.images,
            train,
            torch.device("cpu"),
            cuda_graphs=False,
            conditioning=image_train.Conditioning(full.conditional.run("digits"), mode),
        )
        for mode in EMBEDDINGS
    ]  # each owner of the embedding: the optimisers differ
    for trainer, inputs in ((plain, (x,)), *((conditional, (x, y)) for conditional in conditionals)):
        _untraced(trainer.opt_d, trainer.opt_g)
        assert _host_reads(trainer.step, *inputs) == []


@pytest.mark.parametrize(
    "options",
    [{}, {"supervised_only": True}, {"separate": True}],
    ids=["k_plus_1", "supervised_only", "separate_batchnorm"],
)
def test_the_k_plus_1_step_and_its_average_read_nothing_on_the_host(options):
    """Every switch a semi-supervised run sets graphs its own step: the supervised-only baseline
    (half of every table's runs) and D's separate batch-norm passes as well. The average's update
    once handed torch._foreach_lerp_ a 0-d tensor weight: no overload takes one, so it became a
    Python number (a host read) on every step."""
    torch.manual_seed(0)
    model = ImageALI(image_architecture("svhn", width=0.125), n_classes=10).train()
    settings = semisup_settings.SemisupSettings("digits", 10, 0, 1, 4, 3e-4, 0.5, 0.0, 0.9999, 0.125, "code", "ali")
    opt_d, opt_g = semisup_train.make_optimisers(model, settings, torch.device("cpu"), use_graph=False)
    _untraced(opt_d, opt_g)
    average = semisup_average.DiscriminatorAverage(model, 0.9999, warmup=True)
    step = partial(semisup_train.semisup_train_step, model, opt_d, opt_g, average, **options)
    x_lab, y_lab = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8), torch.arange(4) % 10
    x_unl = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    assert _host_reads(step, x_lab, y_lab, x_unl) == []


def test_the_trace_sees_a_host_read():
    """Guards the step tests above against a trace that records nothing."""
    with HostReads() as trace:
        float(torch.ones(3).sum())
        torch._foreach_lerp_([torch.zeros(2)], [torch.ones(2)], torch.tensor(0.5))
    assert trace.seen == ["aten._local_scalar_dense.default"] * 2


def test_a_tensor_made_without_a_device_in_a_step_is_caught():
    """Guards the meta default device of the step tests: a step that makes one raises."""
    weight = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="meta is not on the expected device"):
        _host_reads(lambda x: (weight * x * torch.tensor(2.0)).sum().backward(), torch.ones(2))
