"""Many small models as one: layers and Adam with a leading model axis.

Why: the toy experiment trains 10 seeds × {ALI, GAN}, each a few hundred thousand parameters. Run
one at a time, a GPU idles between tiny kernels; stacked on a model axis, each layer is one batched
matmul for every run. Each model's slice of every tensor is independent of the others (BN statistics
are per model, losses are summed so gradients do not mix), so a run trained in the stack equals the
same run trained alone (``tests/toy/test_toy_batched.py`` checks this against nn.Linear,
nn.BatchNorm1d and torch.optim.Adam).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BatchedLinear(nn.Module):
    """``n_models`` independent nn.Linear layers: x (M, B, in) -> (M, B, out).

    ``weight`` is (M, out, in) and ``bias`` (M, out): the stack of nn.Linear's own layouts.
    """

    def __init__(self, n_models: int, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_models, out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(n_models, out_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is None:
            return torch.bmm(x, self.weight.transpose(1, 2))
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))


class BatchedBatchNorm1d(nn.Module):
    """``n_models`` independent nn.BatchNorm1d layers on x (M, B, C).

    The model axis is folded into the channel axis, (M, B, C) -> (B, M·C), so PyTorch's own batch
    norm kernel normalises each (model, channel) over the batch: the same arithmetic as
    nn.BatchNorm1d (biased batch variance to normalise, unbiased one into the running estimate),
    and faster than spelling it out. Running statistics are updated in place through the views.
    """

    def __init__(self, n_models: int, num_features: int, eps: float, momentum: float):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(n_models, num_features))
        self.bias = nn.Parameter(torch.zeros(n_models, num_features))
        self.register_buffer("running_mean", torch.zeros(n_models, num_features))
        self.register_buffer("running_var", torch.ones(n_models, num_features))
        self.register_buffer("num_batches_tracked", torch.zeros(n_models, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_models, batch, channels = x.shape
        if self.training:
            self.num_batches_tracked.add_(1)
        folded = x.transpose(0, 1).reshape(batch, n_models * channels)
        y = F.batch_norm(
            folded,
            self.running_mean.view(-1),
            self.running_var.view(-1),
            self.weight.view(-1),
            self.bias.view(-1),
            self.training,
            self.momentum,
            self.eps,
        )
        return y.view(batch, n_models, channels).transpose(0, 1)


def stack_state_dicts(state_dicts: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The batched state dict whose model ``i`` is ``state_dicts[i]``."""
    return {key: torch.stack([sd[key] for sd in state_dicts]) for key in state_dicts[0]}


def unstack_state_dict(batched: dict[str, torch.Tensor], index: int) -> dict[str, torch.Tensor]:
    """Model ``index``'s own state dict, loadable into the single-model module."""
    return {key: value[index].clone() for key, value in batched.items()}


class BatchedAdam:
    """Adam with a learning rate and β1 per model, for parameters with a leading model axis.

    The arithmetic follows torch.optim.Adam's single-tensor path step for step, so a model's slice
    evolves as it would under its own torch.optim.Adam. Every quantity (the step count included)
    is a tensor on the parameters' device, so the update can be captured in a CUDA graph.

    Why one flat buffer: on a GPU the toy step is launch-bound, and an update written per parameter
    tensor is ~10 kernels per tensor (548 of the 890 kernels of a paper-scale toy step went to the
    two sets of optimisers). Here every parameter is re-pointed at its own contiguous block of one
    buffer (``param.data`` becomes a view: each tensor keeps its shape and layout), the gradients
    are gathered into one matching buffer, and the update is 18 kernels over all of them, whatever
    the number of tensors, plus one copy for each gradient autograd hands back transposed (a
    BatchedLinear weight's is: its forward multiplies by ``weight.transpose(1, 2)``). The per-model
    β1 and step size reach each element through the element's model index (P,). Build the
    optimiser after the model is on its device and dtype: a later ``.to()`` gives the model new
    tensors, which ``step`` refuses.
    """

    def __init__(self, params, lr: list[float], beta1: list[float], beta2: float = 0.999, eps: float = 1e-8):
        self.params = list(params)
        device, dtype = self.params[0].device, self.params[0].dtype
        with torch.no_grad():
            self.flat = torch.cat([param.detach().reshape(-1) for param in self.params])  # (P,)
        self._views = _blocks(self.flat, self.params)
        for param, view in zip(self.params, self._views, strict=True):
            param.data = view
        # straight from Python floats to the parameters' dtype (no float32 detour)
        self.lr = torch.tensor(lr, device=device, dtype=dtype)  # (M,)
        self.beta1 = torch.tensor(beta1, device=device, dtype=dtype)  # (M,)
        self.beta2, self.eps = beta2, eps
        # element -> model: a parameter (M, ...) is M consecutive blocks of numel / M elements
        self.model_of = torch.cat(
            [torch.arange(len(lr), device=device).repeat_interleave(param[0].numel()) for param in self.params]
        )  # (P,)
        self.one_minus_beta1 = (1 - self.beta1)[self.model_of]  # (P,)
        self.step_count = torch.zeros((), device=device, dtype=dtype)
        self.exp_avg = torch.zeros_like(self.flat)
        self.exp_avg_sq = torch.zeros_like(self.flat)

    @torch.no_grad()
    def step(self) -> None:
        if any(param.data_ptr() != view.data_ptr() for param, view in zip(self.params, self._views, strict=True)):
            raise RuntimeError(
                "BatchedAdam: a parameter no longer lives in the optimiser's buffer (moved or "
                "replaced after the optimiser was built, e.g. by .to()); build it after moving the model"
            )
        grad = torch.cat([param.grad.reshape(-1) for param in self.params])  # (P,)
        self.step_count += 1
        bias_correction1 = 1 - self.beta1**self.step_count  # (M,)
        bias_correction2_sqrt = torch.sqrt(1 - self.beta2**self.step_count)  # ()
        step_size = (self.lr / bias_correction1)[self.model_of]  # (P,)
        self.exp_avg.lerp_(grad, self.one_minus_beta1)
        self.exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        denom = (self.exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
        self.flat.sub_(step_size * self.exp_avg / denom)

    def state_dict(self) -> dict:
        """Per-parameter moments (views of the buffers), the format checkpoints have always had."""
        return {
            "step_count": self.step_count,
            "exp_avg": _blocks(self.exp_avg, self.params),
            "exp_avg_sq": _blocks(self.exp_avg_sq, self.params),
        }

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            self.step_count.copy_(state["step_count"])
            mine = _blocks(self.exp_avg, self.params) + _blocks(self.exp_avg_sq, self.params)
            for view, theirs in zip(mine, state["exp_avg"] + state["exp_avg_sq"], strict=True):
                view.copy_(theirs)


def _blocks(flat: torch.Tensor, like: list[torch.Tensor]) -> list[torch.Tensor]:
    """``flat`` (P,) cut into contiguous views shaped like each tensor of ``like``, in order."""
    views, offset = [], 0
    for tensor in like:
        views.append(flat[offset : offset + tensor.numel()].view(tensor.shape))
        offset += tensor.numel()
    return views
