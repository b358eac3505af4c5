"""Replay a training step as a CUDA graph on a GPU; call it directly everywhere else.

Why: the toy step is dozens of small kernels, so on a GPU its cost is launch overhead, which a
captured graph removes. The graphed and the eager step are the same function: a CPU test of that
function covers the numerics of both.

How (the whole-network capture pattern of the PyTorch CUDA-graphs docs): the first ``warmup`` calls
run eagerly on a side stream (they are real training steps); the next call captures the step on
static input buffers (capture records kernels without running them) and then replays it, so every
call, warm-up and captured alike, is exactly one training step on its own inputs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

EAGER_WARMUP = 3  # eager calls before the capture (the PyTorch docs' pattern warms up on a side stream)
CALLS_BEFORE_REPLAY = EAGER_WARMUP + 1  # the warm-up and the capturing call: a timing starts after these


class StepRunner:
    """Call ``fn(*tensors) -> tensor`` eagerly, or through a CUDA graph when ``use_graph``."""

    def __init__(self, fn: Callable[..., torch.Tensor], use_graph: bool, warmup: int = EAGER_WARMUP):
        self.fn, self.use_graph, self.warmup = fn, use_graph, warmup
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_inputs: list[torch.Tensor] = []
        self.static_output: torch.Tensor | None = None

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        if not self.use_graph:
            return self.fn(*inputs)
        if self.calls < self.warmup:
            self.calls += 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                output = self.fn(*inputs)
            torch.cuda.current_stream().wait_stream(side)
            return output
        if self.graph is None:
            self.static_inputs = [tensor.clone() for tensor in inputs]
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.static_output = self.fn(*self.static_inputs)
        for static, tensor in zip(self.static_inputs, inputs, strict=True):
            static.copy_(tensor)
        self.graph.replay()
        return self.static_output
