"""The adversarial training step shared by every model: one forward pass, simultaneous updates.

Any model with ``logits(x, z, eps) -> (s_data, s_sample)``, ``generator_parameters()`` and
``discriminator_parameters()`` trains with it: a single toy model, a batched stack of toy models,
or an image model.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ali_bench.objectives import discriminator_accuracies, discriminator_loss, generator_loss

MONITORS = ("loss_d", "loss_g", "d_data", "d_sample")


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names the run, the epoch, what to change and what
    became of its checkpoint (``ali_bench.resumable.run_epochs`` adds that part)."""


def not_finite(numbers: dict[str, float]) -> list[str]:
    """The names of the NaN or infinite values in ``numbers`` (an epoch's mean losses)."""
    return [name for name, value in numbers.items() if not abs(value) < float("inf")]


def divergence(run: str, epoch: int, numbers: dict[str, float], fix: str) -> TrainingDiverged:
    """The error a trainer raises from an epoch whose losses are not all finite: ``run`` names the
    training, ``fix`` what to change (a learning-rate key and its value). Rerunning unchanged would
    diverge the same way (every draw is a function of the seed and epoch), so the message says so."""
    shown = ", ".join(f"{name} = {numbers[name]}" for name in not_finite(numbers))
    return TrainingDiverged(f"{run} diverged in epoch {epoch}: {shown}; {fix}")


def checkpoint_note(checkpoint_path: str | Path, epoch: int | None) -> str:
    """What a divergence message says of the run's checkpoint: that the last good one (``epoch``
    epochs done) is kept, or, when this run wrote none yet, that there is none (never a file that does
    not exist, nor one another config wrote). Either way an unchanged rerun ends the same way."""
    path = Path(checkpoint_path)
    if epoch is not None and path.is_file():
        return (
            f"the last good checkpoint '{path}' (after epoch {epoch}) is kept; rerunning unchanged resumes from it "
            "and diverges the same way"
        )
    return (
        f"no checkpoint of this run was written yet (it would be '{path}'); rerunning unchanged starts over "
        "and diverges the same way"
    )


def adversarial_step(model, opt_d, opt_g, x: torch.Tensor, z: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """One simultaneous D/G update from one forward pass (docs/paper-vs-code.md §1, ``ali_algorithm``).

    Both gradient sets are taken from the same graph evaluation (same batch, noise and BN
    statistics), then both optimisers step. Works for one model (logits (B,)) and for a batched
    stack (logits (M, B)): per-model losses are summed, which leaves each model's gradient its own.
    Returns the monitors stacked as (4, ...): loss_d, loss_g, mean D(x, ẑ), mean 1 - D(x̃, z).
    """
    s_data, s_sample = model.logits(x, z, eps)
    loss_d = discriminator_loss(s_data, s_sample)
    loss_g = generator_loss(s_data, s_sample)
    d_params, g_params = model.discriminator_parameters(), model.generator_parameters()
    grads_d = torch.autograd.grad(loss_d.sum(), d_params, retain_graph=True)
    grads_g = torch.autograd.grad(loss_g.sum(), g_params)
    for param, grad in zip(d_params + g_params, grads_d + grads_g, strict=True):
        param.grad = grad
    opt_d.step()
    opt_g.step()
    d_data, d_sample = discriminator_accuracies(s_data.detach(), s_sample.detach())
    return torch.stack([loss_d.detach(), loss_g.detach(), d_data, d_sample])


def image_step(
    model,
    opt_d,
    opt_g,
    x_uint8: torch.Tensor,
    y: torch.Tensor | None = None,
    bf16: bool = False,
    channels_last: bool = False,
) -> torch.Tensor:
    """One training step on a uint8 batch (B, 3, H, W): scale to [0, 1], draw z and ε, update D and G.

    ``y``: the batch's conditions, for the conditional model. The noise is drawn inside the step
    (from the device's default generator) so that a captured CUDA graph draws fresh noise on every
    replay.
    """
    x = x_uint8.float().div_(255.0)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    shape = (x.shape[0], model.arch.latent_dim, 1, 1)
    z = torch.randn(shape, device=x.device)
    eps = torch.randn(shape, device=x.device)
    target = model if y is None else model.given(y)
    with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=bf16):
        return adversarial_step(target, opt_d, opt_g, x, z, eps)
