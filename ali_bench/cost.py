"""What an image training costs before it starts: steps, FLOPs, time on a device, memory, disk.

One cost model for two users: the guard that refuses days of CPU work nobody asked for (image and
semi-supervised trainings under ``device: auto`` on a machine without CUDA) and
``python -m ali_bench plan``, which prints each training job's cost from a dry run.

How the time is made (each rate says whether it was measured or assumed):

- FLOPs per image of one training step (forward, and both backward passes, of D and G) are
  *counted* by torch's FlopCounterMode on a real step of the run's architecture at its width; a
  run is ``epochs × steps per epoch × batch`` images of that.
- CPU: *fitted to two measured steps* on the reference 2-core x86_64 CPU (benchmarks/RESULTS.md):
  the SVHN architecture at batch 100 (100.7 GFLOP per step, 928.78 ms, ``image_throughput.py``)
  and the digits run at quarter width, batch 50 (3.5 GFLOP per step, 0.179 s, the quick run's
  benchmark). A line through both: 0.152 s per step plus 129.7 GFLOP/s. Small models are
  dominated by the per-step part, which a FLOP rate alone misses. Another CPU differs (more
  cores, other vector units); the estimate says "on the reference CPU".
- GPU: *assumed* until the GPU benchmarks have run: 20 TFLOP/s sustained (a few percent of an
  H100/H200's dense TF32 peak, what small convnets at batch 100 reach) plus 2 ms per step of
  launch latency. Both are labelled estimates wherever they are printed.

Memory (GPU or CPU): the training split resident as uint8 (how the trainers hold it), 16 bytes
per parameter (fp32 weights, gradients and Adam's two moments), and the batch's activations
counted by forward hooks during the counted step, three times over (kept for both backward
passes and their gradients). Disk: the models file and the checkpoint (weights, Adam moments,
batch-norm statistics) at 4 bytes per number, ``12 × parameters`` bytes together.
"""

from __future__ import annotations

from dataclasses import dataclass

_SVHN_STEP = (1.007e9 * 100, 0.92878)  # (FLOPs, seconds) measured: SVHN architecture, batch 100
_QUARTER_DIGITS_STEP = (3.504e9, 0.1792)  # measured: digits at width 0.25, batch 50
CPU_RATE_FLOPS = (_SVHN_STEP[0] - _QUARTER_DIGITS_STEP[0]) / (_SVHN_STEP[1] - _QUARTER_DIGITS_STEP[1])
CPU_STEP_OVERHEAD_S = _QUARTER_DIGITS_STEP[1] - _QUARTER_DIGITS_STEP[0] / CPU_RATE_FLOPS
CPU_RATE_SOURCE = "fitted to two steps measured on the reference 2-core CPU (benchmarks/RESULTS.md)"
GPU_RATE_FLOPS = 20e12  # assumed: no GPU step measured yet
GPU_STEP_LATENCY_S = 2e-3  # assumed
GPU_RATE_SOURCE = "estimate: 20 TFLOP/s and 2 ms per step assumed, no GPU measurement yet"
UNASKED_CPU_LIMIT_H = 12.0  # above this, device auto on a CPU refuses (device: cpu runs it anyway)


@dataclass(frozen=True)
class TrainingCost:
    """One training's projected cost; times in hours, sizes in bytes."""

    steps: int
    batch: int
    images_per_step: int  # the batch; the semi-supervised step takes a labelled and an unlabelled one
    flops_per_image: float
    parameters: int
    activation_bytes: int  # of one batch, counted
    data_bytes: int  # the resident training split

    @property
    def flops(self) -> float:
        return self.flops_per_image * self.images_per_step * self.steps

    def hours(self, device: str) -> float:
        """On ``device`` ("cpu" or "cuda"), from the rates above."""
        if device == "cpu":
            return (self.flops / CPU_RATE_FLOPS + self.steps * CPU_STEP_OVERHEAD_S) / 3600
        return (self.flops / GPU_RATE_FLOPS + self.steps * GPU_STEP_LATENCY_S) / 3600

    @staticmethod
    def source(device: str) -> str:
        return CPU_RATE_SOURCE if device == "cpu" else GPU_RATE_SOURCE

    @property
    def memory_bytes(self) -> int:
        return self.data_bytes + 16 * self.parameters + 3 * self.activation_bytes

    @property
    def disk_bytes(self) -> int:
        return 12 * self.parameters


def count_step(model, images) -> tuple[float, int]:
    """FLOPs per image and activation bytes of one training step of ``model`` on the uint8 batch
    ``images`` (B, 3, H, W), on the CPU; the model's weights change (use a throwaway model)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ali_bench.training import image_step

    activations = [0]

    def count(_module, _inputs, output) -> None:
        if isinstance(output, torch.Tensor) and not list(_module.children()):  # leaves only: no double counting
            activations[0] += output.numel() * output.element_size()

    hooks = [m.register_forward_hook(count) for m in model.modules()]
    adam = torch.optim.Adam
    try:
        with FlopCounterMode(display=False) as flops:
            image_step(model, adam(model.discriminator_parameters()), adam(model.generator_parameters()), images)
    finally:
        for hook in hooks:
            hook.remove()
    return flops.get_total_flops() / len(images), activations[0]


def image_training_cost(
    dataset: str, images_cfg, train_examples: int, *, epochs: int, batch: int, width: float, counted_batch: int = 2
) -> TrainingCost:
    """The cost of ``epochs`` of ``dataset`` at ``batch`` and ``width``, counted on a throwaway model
    (``counted_batch`` images; activations scaled to ``batch``)."""
    import torch

    from ali_bench.nets import architecture_options, image_architecture
    from ali_bench.nets.image import ImageALI

    arch = image_architecture(dataset, images_cfg.variant, width, **architecture_options(dataset, images_cfg))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = ImageALI(arch).train()
        images = torch.randint(0, 256, (counted_batch, 3, arch.image_size, arch.image_size), dtype=torch.uint8)
        flops_per_image, activation_bytes = count_step(model, images)
    parameters = sum(p.numel() for p in model.parameters())
    steps = epochs * (train_examples // batch)  # the trainers drop the last partial batch
    return TrainingCost(
        steps=steps,
        batch=batch,
        images_per_step=batch,
        flops_per_image=flops_per_image,
        parameters=parameters,
        activation_bytes=activation_bytes * batch // counted_batch,
        data_bytes=train_examples * 3 * arch.image_size**2,
    )


def semisup_training_cost(
    dataset: str, images_cfg, unlabelled_examples: int, *, epochs: int, batch: int, width: float
) -> TrainingCost:
    """The K+1 run's cost: an epoch is a pass over the unlabelled split, and each step takes a labelled
    and an unlabelled batch through the same networks (an estimate from the image step's counted
    FLOPs: on the reference CPU it is within ~20 % of the measured semi-supervised step)."""
    import dataclasses

    image = image_training_cost(dataset, images_cfg, unlabelled_examples, epochs=epochs, batch=batch, width=width)
    return dataclasses.replace(image, images_per_step=2 * batch)


def semisup_run_cost(
    dataset: str, images_cfg, unlabelled_examples: int, *, epochs: int, batch: int, width: float, gan_fm_nets: str = ""
) -> TrainingCost:
    """One semi-supervised run's cost: a gan-fm run's (``gan_fm_nets``, its networks) or, with ``""``,
    a K+1 run's (the supervised baseline is priced as one)."""
    shape = dict(epochs=epochs, batch=batch, width=width)
    if gan_fm_nets:
        return gan_fm_training_cost(dataset, images_cfg, unlabelled_examples, nets=gan_fm_nets, **shape)
    return semisup_training_cost(dataset, images_cfg, unlabelled_examples, **shape)


def gan_fm_training_cost(
    dataset: str,
    images_cfg,
    unlabelled_examples: int,
    *,
    epochs: int,
    batch: int,
    width: float,
    nets: str = "improved-gan-conv",
    counted_batch: int = 2,
) -> TrainingCost:
    """GAN-FM's cost, counted on a throwaway model over the passes of one improved-GAN step: D forward
    and backward on a labelled, an unlabelled and a generated batch (D's update), then D's features
    of a second unlabelled batch and of G's samples, backward through G (G's update); ``counted_batch``
    images per group, FLOPs per image of the labelled batch (the step takes ``batch`` of each)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ali_bench.nets.improved_gan import gan_fm_networks

    activations = [0]

    def count(module, _inputs, output) -> None:
        if isinstance(output, torch.Tensor) and not list(module.children()):  # leaves only: no double counting
            activations[0] += output.numel() * output.element_size()

    cpu = torch.device("cpu")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        images = torch.randint(0, 256, (counted_batch, 3, 32, 32), dtype=torch.uint8)
        model = gan_fm_networks(nets, dataset, images_cfg.variant, width, 10, images).train()
        d, g = model.discriminator, model.generator
        x = model.inputs(images)
        hooks = [m.register_forward_hook(count) for m in model.modules()]
        try:
            with FlopCounterMode(display=False) as flops:
                with torch.no_grad():
                    generated = g(g.noise(counted_batch, cpu))
                for group in (x, x, generated):  # D's update
                    d(group)[0].sum().backward()
                real = d.features(x).detach()
                (d.features(g(g.noise(counted_batch, cpu))) - real).abs().mean().backward()  # G's update
        finally:
            for hook in hooks:
                hook.remove()
    steps = epochs * (unlabelled_examples // batch)  # the trainer drops the last partial batch
    return TrainingCost(
        steps=steps,
        batch=batch,
        images_per_step=batch,
        flops_per_image=flops.get_total_flops() / counted_batch,
        parameters=sum(p.numel() for p in model.parameters()),
        activation_bytes=activations[0] * batch // counted_batch,
        data_bytes=unlabelled_examples * 3 * 32**2,
    )


def human_hours(hours: float) -> str:
    if hours < 1 / 60:
        return f"{hours * 3600:.0f} s"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours:.0f} h ({hours / 24:.1f} days)"


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


# measured: a paper-scale toy step of 20 runs (ALI and GAN, 10 seeds each), batched, 2-core CPU
TOY_RUN_STEP_S = 0.23782 / 20
TOY_RATE_SOURCE = "a paper-scale toy step measured on the reference 2-core CPU, scaled by parameters"


def toy_training_hours(toy_cfg, runs: int) -> tuple[int, float]:
    """Steps and CPU hours of one batched toy training of ``runs`` runs: the measured paper-scale time
    per run-step, scaled by the networks' parameter count against the paper's networks."""
    from ali_bench.config import load_config
    from ali_bench.nets.toy import TOY_MODELS

    def parameters(network) -> float:
        return sum(sum(p.numel() for p in TOY_MODELS[m](network).parameters()) for m in TOY_MODELS) / len(TOY_MODELS)

    steps = toy_cfg.training.epochs * (toy_cfg.mixture.n_train // toy_cfg.training.batch_size)
    scale = parameters(toy_cfg.network) / parameters(load_config({}).toy.network)
    return steps, steps * runs * TOY_RUN_STEP_S * scale / 3600


def refuse_unasked_cpu(command: str, make_cost, device_choice: str, device_type: str) -> None:
    """Refuse, in one line, a training that ``device: auto`` put on the CPU and that would take longer
    than ``UNASKED_CPU_LIMIT_H`` there; ``device: cpu`` (asked for) runs it. ``make_cost``: a
    function that returns the TrainingCost, called only when the device is such a CPU."""
    if device_choice != "auto" or device_type != "cpu":
        return
    cost = make_cost()
    _refuse_above_limit(
        command,
        f"{cost.steps:,} steps of {cost.images_per_step} images",
        cost.hours("cpu"),
        f"{cost.flops:.3g} FLOPs; {CPU_RATE_SOURCE}",
    )


def refuse_unasked_cpu_toy(command: str, toy_cfg, runs: int, device_choice: str, device_type: str) -> None:
    """``refuse_unasked_cpu`` for a batched toy training (priced by ``toy_training_hours``)."""
    if device_choice != "auto" or device_type != "cpu":
        return
    steps, hours = toy_training_hours(toy_cfg, runs)
    _refuse_above_limit(command, f"{steps:,} steps of {runs} runs", hours, TOY_RATE_SOURCE)


def _refuse_above_limit(command: str, what: str, hours: float, how: str) -> None:
    from ali_bench.config import ConfigError

    if hours <= UNASKED_CPU_LIMIT_H:
        return
    raise ConfigError(
        f"{command}: {what} on the CPU would take about {human_hours(hours)} ({how}; ali_bench/cost.py), and "
        "config key 'device' is auto with no CUDA GPU in sight: to run it on the CPU anyway set config key "
        "'device: cpu' (snakemake --config device=cpu), or run the small version (--configfile config/quick.yaml)"
    )
