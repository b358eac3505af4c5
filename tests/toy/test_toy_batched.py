"""A run trained inside the batched stack equals the same run trained alone with plain PyTorch."""

from dataclasses import replace
from functools import partial

import pytest
import torch
from torch import nn

from ali_bench.nets.batched import BatchedAdam, BatchedBatchNorm1d, BatchedLinear, stack_state_dicts, unstack_state_dict
from ali_bench.nets.toy import ToyALI
from ali_bench.toy.runs import plan_runs
from ali_bench.toy.train import load_models, train_alone, train_toy

DOUBLE = torch.float64


def test_batched_linear_equals_stacked_nn_linear():
    torch.manual_seed(0)
    singles = [nn.Linear(5, 3).double() for _ in range(4)]
    batched = BatchedLinear(4, 5, 3).double()
    batched.load_state_dict(stack_state_dicts([m.state_dict() for m in singles]))
    x = torch.randn(4, 7, 5, dtype=DOUBLE)
    out = batched(x)
    for i, single in enumerate(singles):
        torch.testing.assert_close(out[i], single(x[i]))


@pytest.mark.parametrize("training", [True, False])
def test_batched_batchnorm_equals_nn_batchnorm_and_updates_running_stats(training):
    torch.manual_seed(0)
    singles = [nn.BatchNorm1d(6, eps=1e-4, momentum=0.05).double() for _ in range(3)]
    for single in singles:
        nn.init.normal_(single.weight)
        single.running_mean.normal_()
    batched = BatchedBatchNorm1d(3, 6, eps=1e-4, momentum=0.05).double()
    batched.load_state_dict(stack_state_dicts([m.state_dict() for m in singles]))
    batched.train(training)
    x = torch.randn(3, 10, 6, dtype=DOUBLE) * 3 + 1
    out = batched(x)
    for i, single in enumerate(singles):
        single.train(training)
        torch.testing.assert_close(out[i], single(x[i]))
        torch.testing.assert_close(batched.running_mean[i], single.running_mean)
        torch.testing.assert_close(batched.running_var[i], single.running_var)
    if training:
        assert not torch.allclose(
            batched.running_mean, stack_state_dicts([m.state_dict() for m in singles])["running_mean"] * 0
        )


def test_batched_adam_with_per_model_lr_and_beta1_equals_torch_adam():
    torch.manual_seed(0)
    lrs, beta1s = [1e-3, 3e-4, 5e-2], [0.5, 0.8, 0.9]
    params = [torch.randn(5, 4, dtype=DOUBLE) for _ in lrs]
    singles = [nn.Parameter(p.clone()) for p in params]
    optims = [
        torch.optim.Adam([p], lr=lr, betas=(b1, 0.999), eps=1e-8)
        for p, lr, b1 in zip(singles, lrs, beta1s, strict=True)
    ]
    stacked = nn.Parameter(torch.stack(params))
    batched = BatchedAdam([stacked], lr=lrs, beta1=beta1s, beta2=0.999, eps=1e-8)
    for _ in range(25):
        grads = torch.randn(3, 5, 4, dtype=DOUBLE)
        stacked.grad = grads.clone()
        batched.step()
        for i, (p, opt) in enumerate(zip(singles, optims, strict=True)):
            p.grad = grads[i].clone()
            opt.step()
    for i, p in enumerate(singles):
        torch.testing.assert_close(stacked.data[i], p.data, rtol=1e-12, atol=1e-12)


def _update_kernels(n_tensors: int) -> int:
    """Non-view ATen ops one BatchedAdam step dispatches for ``n_tensors`` parameter tensors."""
    from torch.utils._python_dispatch import TorchDispatchMode

    views = {
        "view",
        "reshape",
        "_reshape_alias",
        "_unsafe_view",
        "alias",
        "as_strided",
        "detach",
        "expand",
        "slice",
        "select",
    }

    class Count(TorchDispatchMode):
        ops = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func.__name__.split(".")[0] not in views:
                Count.ops += 1
            return func(*args, **(kwargs or {}))

    params = [nn.Parameter(torch.randn(3, 4, 5)) for _ in range(n_tensors)]
    optimizer = BatchedAdam(params, lr=[1e-3] * 3, beta1=[0.5] * 3)
    for param in params:
        param.grad = torch.randn_like(param)
    with Count():
        optimizer.step()
    return Count.ops


def test_the_batched_adam_update_costs_the_same_kernels_for_any_number_of_tensors():
    """On a GPU the toy step is launch-bound: its update must not cost kernels per parameter tensor
    (the per-tensor loop it replaced took ~10 per tensor: 548 of a paper-scale step's 890). On
    contiguous gradients; a transposed one (a BatchedLinear weight's) adds its copy into the buffer."""
    assert _update_kernels(30) == _update_kernels(2) <= 20


def test_batched_adam_refuses_parameters_moved_after_it_was_built():
    param = nn.Parameter(torch.randn(2, 3))
    optimizer = BatchedAdam([param], lr=[1e-3, 1e-3], beta1=[0.5, 0.5])
    param.data = param.data.double()  # what module.to(dtype) does to a parameter
    param.grad = torch.zeros_like(param)
    with pytest.raises(RuntimeError, match="no longer lives in the optimiser's buffer"):
        optimizer.step()


def test_batched_adam_state_round_trips_through_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    params = [nn.Parameter(torch.randn(2, 3)), nn.Parameter(torch.randn(2, 4, 2))]
    optimizer = BatchedAdam(params, lr=[1e-3, 5e-3], beta1=[0.5, 0.8])
    for _ in range(3):
        for param in params:
            param.grad = torch.randn_like(param)
        optimizer.step()
    torch.save(optimizer.state_dict(), tmp_path / "opt.pt")
    fresh_params = [nn.Parameter(p.detach().clone()) for p in params]
    fresh = BatchedAdam(fresh_params, lr=[1e-3, 5e-3], beta1=[0.5, 0.8])
    fresh.load_state_dict(torch.load(tmp_path / "opt.pt"))
    grads = [torch.randn_like(p) for p in params]
    for opt, ps in ((optimizer, params), (fresh, fresh_params)):
        for param, grad in zip(ps, grads, strict=True):
            param.grad = grad.clone()
        opt.step()
    for mine, theirs in zip(params, fresh_params, strict=True):
        assert torch.equal(mine, theirs)


def test_unstack_returns_each_models_state():
    state = stack_state_dicts([{"w": torch.full((2,), float(i))} for i in range(3)])
    assert unstack_state_dict(state, 2)["w"].tolist() == [2.0, 2.0]


@pytest.mark.parametrize("hyperparameter_set", ["random", "released"])
def test_run_trained_in_the_batch_equals_the_run_trained_alone(tmp_path, tiny_config, hyperparameter_set):
    """300 steps (30 epochs x 10 batches) of 2 seeds x {ALI, GAN} in float64."""
    cfg = replace(tiny_config.toy, training=replace(tiny_config.toy.training, epochs=30, checkpoint_every=100))
    payload = train_toy(
        cfg,
        hyperparameter_set,
        tmp_path / "m.pt",
        tmp_path / "log.csv",
        tmp_path / "ck.pt",
        torch.device("cpu"),
        "cpu",
        tiny_config.batchnorm,
        dtype=DOUBLE,
        progress=False,
    )
    _, models = load_models(tmp_path / "m.pt", "running")
    runs = plan_runs(cfg, hyperparameter_set)
    assert len(runs) == 4
    for run in runs:
        i = payload["model_runs"][run.model].index(run.name)
        alone = train_alone(cfg, run, torch.device("cpu"), dtype=DOUBLE)
        batched_state = unstack_state_dict(models[run.model].state_dict(), i)
        alone_state = alone.state_dict()
        assert batched_state.keys() == alone_state.keys()
        for key in alone_state:
            assert batched_state[key].dtype == alone_state[key].dtype
            torch.testing.assert_close(batched_state[key], alone_state[key], rtol=1e-10, atol=1e-12)


def test_runs_really_differ_and_really_train(tmp_path, tiny_config):
    """Guards the equality test above against passing vacuously (all runs identical or frozen)."""
    cfg = tiny_config.toy
    from ali_bench.toy.train import initial_state

    runs = plan_runs(cfg, "random")
    ali_runs = [r for r in runs if r.model == "ali"]
    start = initial_state(cfg, ali_runs[0])
    trained = train_alone(cfg, ali_runs[0], torch.device("cpu"), dtype=DOUBLE, max_steps=20).state_dict()
    assert not torch.allclose(start["decoder.0.weight"].double(), trained["decoder.0.weight"])
    other = initial_state(cfg, ali_runs[1])
    assert not torch.allclose(start["decoder.0.weight"], other["decoder.0.weight"])
    assert ali_runs[0].lr != ali_runs[1].lr


def test_single_model_forward_shapes(tiny_config):
    model = ToyALI(tiny_config.toy.network)
    x, z, eps = torch.randn(8, 2), torch.randn(8, 2), torch.randn(8, 2)
    s_data, s_sample = model.logits(x, z, eps)
    assert s_data.shape == (8,) and s_sample.shape == (8,)
    batched = ToyALI(tiny_config.toy.network, n_models=3)
    s_data, s_sample = batched.logits(x.expand(3, 8, 2), z.expand(3, 8, 2), eps.expand(3, 8, 2))
    assert s_data.shape == (3, 8)


def test_recomputed_batchnorm_statistics_are_stored_beside_the_running_ones_and_per_run(tmp_path, tiny_config):
    """The models file keeps both sets; the loader picks one; a seed trained alone gets the
    statistics it gets in the stack (its recomputation batches come from its own seed)."""
    cfg = tiny_config.toy
    train = partial(
        train_toy,
        cfg,
        "random",
        device=torch.device("cpu"),
        device_label="cpu",
        batchnorm_settings=tiny_config.batchnorm,
        dtype=DOUBLE,
        progress=False,
    )
    both = train(out_path=tmp_path / "m.pt", log_path=tmp_path / "log.csv", checkpoint_path=tmp_path / "ck.pt")
    alone = train(
        out_path=tmp_path / "a.pt", log_path=tmp_path / "alog.csv", checkpoint_path=tmp_path / "ack.pt", seeds=(1,)
    )
    for kind in cfg.models:
        recomputed, trained = both["bn_recomputed"][kind], both["models"][kind]
        assert recomputed and set(recomputed) <= set(trained)
        assert all(not torch.allclose(recomputed[key], trained[key]) for key in recomputed)
        index = both["model_runs"][kind].index(f"{kind}-random-seed1")
        for key in recomputed:
            torch.testing.assert_close(
                alone["bn_recomputed"][kind][key][0], recomputed[key][index], rtol=1e-10, atol=1e-12
            )
    for statistics, source in (("running", "models"), ("recomputed", "bn_recomputed")):
        _, models = load_models(tmp_path / "m.pt", statistics)
        key = "decoder.1.running_mean"
        assert torch.equal(models["gan"].state_dict()[key], both[source]["gan"][key])
