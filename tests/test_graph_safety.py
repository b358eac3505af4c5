"""The steps a GPU replays as CUDA graphs never read a device value on the host (checked on the CPU).

Why: while a step is being captured, CUDA refuses any copy of a value to the host (``.item()``,
``float(tensor)``, a tensor turned into a Python number for an op's Scalar argument, ``nonzero``,
a boolean mask): "operation not permitted when stream is capturing", at the fourth step of the
first GPU run. The CPU runs the very functions a GPU captures, so a dispatch trace of one eager
step here finds each such read (ATen's ``_local_scalar_dense``) before a GPU session does.
torch.optim.Adam is left out of the trace: its CPU path reads its step count on the host by design,
and on a GPU the harness builds it fused and capturable (``capturable=True``), which reads none.
"""

from functools import partial

import torch
from torch.utils._python_dispatch import TorchDispatchMode, _disable_current_modes

from ali_bench.config import load_config
from ali_bench.data.images import load_split
from ali_bench.images import train as image_train
from ali_bench.nets import image_architecture
from ali_bench.nets.conditional import condition_vectors
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
    step(*inputs)  # a first step outside the trace, as the GPU's warm-up steps are
    with HostReads() as trace:
        step(*inputs)
    return trace.seen


def test_the_toy_step_reads_nothing_on_the_host(tiny_config):
    """The whole toy step, its BatchedAdam update included (the harness's own optimiser)."""
    cfg = tiny_config.toy
    runs = [run for run in plan_runs(cfg, "random") if run.model == "ali"]
    group = build_group(cfg, runs, torch.device("cpu"), torch.float32, cuda_graphs=False)
    inputs = [torch.randn(len(runs), cfg.training.batch_size, d) for d in (2, cfg.network.latent_dim, cfg.network.latent_dim)]
    assert _host_reads(group.step, *inputs) == []


def test_the_image_and_conditional_steps_read_nothing_on_the_host():
    full = load_config({"device": "cpu", "images": TINY_IMAGES})
    train = load_split("digits", "train", "unused")
    x = train.images[:16]
    plain = image_train.make_trainer("digits", full.images, train, torch.device("cpu"), cuda_graphs=False)
    conditioning = image_train.Conditioning(full.conditional.run("digits"), full.conditional.embedding)
    conditional = image_train.make_trainer("digits", full.images, train, torch.device("cpu"), cuda_graphs=False,
                                           conditioning=conditioning)
    for trainer, inputs in ((plain, (x,)), (conditional, (x, condition_vectors("digits", train.labels[:16])))):
        _untraced(trainer.opt_d, trainer.opt_g)
        assert _host_reads(trainer.step, *inputs) == []


def test_the_k_plus_1_step_and_its_average_read_nothing_on_the_host():
    """The average's update once handed torch._foreach_lerp_ a 0-d tensor weight: no overload takes
    one, so it became a Python number (a host read) on every step."""
    torch.manual_seed(0)
    model = ImageALI(image_architecture("svhn", width=0.125), n_classes=10).train()
    settings = semisup_settings.SemisupSettings("digits", 10, 0, 1, 4, 3e-4, 0.5, 0.0, 0.9999, 0.125, "code", False)
    opt_d, opt_g = semisup_train.make_optimisers(model, settings, torch.device("cpu"), use_graph=False)
    _untraced(opt_d, opt_g)
    average = semisup_average.DiscriminatorAverage(model, 0.9999, warmup=True)
    step = partial(semisup_train.semisup_train_step, model, opt_d, opt_g, average)
    x_lab, y_lab = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8), torch.arange(4) % 10
    x_unl = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    assert _host_reads(step, x_lab, y_lab, x_unl) == []


def test_the_trace_sees_a_host_read():
    """Guards the three tests above against a trace that records nothing."""
    with HostReads() as trace:
        float(torch.ones(3).sum())
        torch._foreach_lerp_([torch.zeros(2)], [torch.ones(2)], torch.tensor(0.5))
    assert trace.seen == ["aten._local_scalar_dense.default"] * 2
