"""The toy's Adam equals the 2016 Blocks Adam the released code ran, once beta1 is converted.

A NumPy transcription of Blocks' ``Adam.compute_step`` as it stood from 2016-03 to 2017-01-24
(mila-iqia/blocks c45d2b70 .. 1bc1fc14 .. a31ef0ba^; the ALI code of 2016 ran on it) steps beside
the harness's optimisers on one seeded random gradient stream. With the released script's Blocks
values converted (ali_bench.toy.adam_convention) they agree to float64 round-off plus Blocks' tiny
ε placement and beta1 decay; with beta1 read unconverted (PyTorch 0.8) they are far apart.
"""

import numpy as np
import pytest
import torch
from torch import nn

from ali_bench.config import load_config
from ali_bench.nets.batched import BatchedAdam
from ali_bench.toy.adam_convention import pytorch_beta_from_blocks_2016

# experiments/ali_mixture.py (2016): Adam(learning_rate=1e-4, beta1=0.8), Blocks' default
# beta2=0.001, epsilon=1e-8, decay_factor=1 - 1e-8 (§8)
RELEASED_BLOCKS = {"learning_rate": 1e-4, "beta1": 0.8, "beta2": 0.001, "epsilon": 1e-8, "decay_factor": 1 - 1e-8}
STEPS = 100
TOLERANCE = 2e-9  # absolute; measured 5.9e-10 (Blocks adds ε before the bias correction); parameters move ~7e-3


def blocks_2016_adam(
    start: np.ndarray, gradients: np.ndarray, learning_rate, beta1, beta2, epsilon, decay_factor
) -> np.ndarray:
    """Blocks c45d2b70 ``Adam.compute_step``, transcribed; GradientDescent then does param -= step."""
    param, mean, variance = start.copy(), np.zeros_like(start), np.zeros_like(start)
    for time, gradient in enumerate(gradients):
        t1 = time + 1
        corrected_rate = learning_rate * np.sqrt(1.0 - (1.0 - beta2) ** t1) / (1.0 - (1.0 - beta1) ** t1)
        beta_1t = 1.0 - (1.0 - beta1) * decay_factor ** (t1 - 1)
        mean = beta_1t * gradient + (1.0 - beta_1t) * mean
        variance = beta2 * gradient**2 + (1.0 - beta2) * variance
        param = param - corrected_rate * mean / (np.sqrt(variance) + epsilon)
    return param


def batched_adam(
    start: np.ndarray, gradients: np.ndarray, lr: float, betas: tuple[float, float], eps: float
) -> np.ndarray:
    param = nn.Parameter(torch.from_numpy(start.copy()).unsqueeze(0))  # one model on the model axis
    optimizer = BatchedAdam([param], lr=[lr], beta1=[betas[0]], beta2=betas[1], eps=eps)
    for gradient in gradients:
        param.grad = torch.from_numpy(gradient).unsqueeze(0)
        optimizer.step()
    return param.detach()[0].numpy()


def torch_adam(
    start: np.ndarray, gradients: np.ndarray, lr: float, betas: tuple[float, float], eps: float
) -> np.ndarray:
    param = nn.Parameter(torch.from_numpy(start.copy()))
    optimizer = torch.optim.Adam([param], lr=lr, betas=betas, eps=eps)
    for gradient in gradients:
        param.grad = torch.from_numpy(gradient)
        optimizer.step()
    return param.detach().numpy()


@pytest.fixture(scope="module")
def stream():
    rng = np.random.default_rng(20160531)
    start = rng.standard_normal((7, 5))
    # gradients with a persistent direction plus noise, so the first moment matters
    gradients = 0.3 * rng.standard_normal((7, 5)) + rng.standard_normal((STEPS, 7, 5))
    blocks = blocks_2016_adam(start, gradients, **RELEASED_BLOCKS)
    return start, gradients, blocks


def test_the_config_holds_the_released_blocks_values_converted():
    toy = load_config({}).toy
    assert toy.released.lr == RELEASED_BLOCKS["learning_rate"]
    assert toy.released.beta1 == pytest.approx(pytorch_beta_from_blocks_2016(RELEASED_BLOCKS["beta1"]))
    assert toy.training.adam_beta2 == pytest.approx(pytorch_beta_from_blocks_2016(RELEASED_BLOCKS["beta2"]))
    assert toy.training.adam_eps == RELEASED_BLOCKS["epsilon"]


@pytest.mark.parametrize("optimizer", [batched_adam, torch_adam], ids=["BatchedAdam", "torch.optim.Adam"])
def test_converted_beta1_reproduces_blocks_2016_and_the_unconverted_one_does_not(stream, optimizer):
    start, gradients, blocks = stream
    toy = load_config({}).toy
    betas = (toy.released.beta1, toy.training.adam_beta2)
    converted = optimizer(start, gradients, toy.released.lr, betas, toy.training.adam_eps)
    assert np.abs(blocks - start).max() > 1e-3, "the parameters must really move"
    assert np.abs(converted - blocks).max() < TOLERANCE
    unconverted = optimizer(
        start, gradients, toy.released.lr, (RELEASED_BLOCKS["beta1"], toy.training.adam_beta2), toy.training.adam_eps
    )
    assert np.abs(unconverted - blocks).max() > 100 * TOLERANCE


def test_a_blocks_beta_outside_its_range_is_refused():
    with pytest.raises(ValueError, match="Blocks Adam beta"):
        pytorch_beta_from_blocks_2016(1.5)
