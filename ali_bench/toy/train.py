"""Train every run of one toy hyperparameter set in one process, batched on a model axis.

All ALI runs form one batched ToyALI, all GAN runs one batched ToyGAN; both step in the same loop
over the same epochs. The training set lives on the device; a batch is an index gather.
Checkpoints every ``checkpoint_every`` epochs (atomic); a rerun with the same config resumes from the
last one and ends with exactly the parameters an uninterrupted run would have.

Once training ends, each run's batch-norm population statistics are recomputed for its final weights
(``ali_bench.batchnorm``) and stored beside the running averages; loaders pick one set.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from ali_bench import batchnorm, checkpoint, trained_with
from ali_bench.config import BatchNormConfig, ToyConfig, ToyNetworkConfig, as_dict, config_hash
from ali_bench.config_schema import from_dict
from ali_bench.cuda_graphs import StepRunner
from ali_bench.data.mixture import train_and_test
from ali_bench.nets.batched import BatchedAdam, stack_state_dicts
from ali_bench.nets.toy import TOY_MODELS, ToyGAN, init_weights_
from ali_bench.resumable import length_free, run_epochs, write_log
from ali_bench.seeding import generator_for
from ali_bench.toy.runs import INIT, MODEL_CODES, RunSpec, batchnorm_draws, epoch_draws, plan_runs
from ali_bench.training import MONITORS, adversarial_step

MODELS_FORMAT = "ali-bench/toy-models/2"  # 2: recomputed batch-norm statistics under "bn_recomputed"
LOG_COLUMNS = ("epoch", "run", "model", "hyperparameter_set", "seed", *MONITORS, "wall_time_s")


@dataclass
class RunGroup:
    """The runs of one model kind, as one batched model with its two optimisers."""

    runs: list[RunSpec]
    model: ToyGAN
    opt_d: BatchedAdam
    opt_g: BatchedAdam
    step: StepRunner

    def state(self) -> dict:
        return {"model": self.model.state_dict(), "opt_d": self.opt_d.state_dict(), "opt_g": self.opt_g.state_dict()}

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.opt_g.load_state_dict(state["opt_g"])


def initial_state(cfg: ToyConfig, run: RunSpec) -> dict[str, torch.Tensor]:
    """A run's initial single-model state dict (weights from its seed, scaled by its init std)."""
    model = TOY_MODELS[run.model](cfg.network)
    init_weights_(model, run.init_std, generator_for(run.seed, INIT, MODEL_CODES[run.model]))
    return model.state_dict()


def build_group(
    cfg: ToyConfig, runs: list[RunSpec], device: torch.device, dtype: torch.dtype, cuda_graphs: bool
) -> RunGroup:
    kind = runs[0].model
    model = TOY_MODELS[kind](cfg.network, n_models=len(runs))
    model.load_state_dict(stack_state_dicts([initial_state(cfg, run) for run in runs]))
    model.to(device=device, dtype=dtype).train()
    adam = partial(
        BatchedAdam,
        lr=[run.lr for run in runs],
        beta1=[run.beta1 for run in runs],
        beta2=cfg.training.adam_beta2,
        eps=cfg.training.adam_eps,
    )
    opt_d, opt_g = adam(model.discriminator_parameters()), adam(model.generator_parameters())
    step = StepRunner(partial(adversarial_step, model, opt_d, opt_g), use_graph=cuda_graphs and device.type == "cuda")
    return RunGroup(runs, model, opt_d, opt_g, step)


def epoch_inputs(groups: list[RunGroup], cfg: ToyConfig, epoch: int, steps: int, device, dtype):
    """Each group's epoch draws stacked on the model axis: order (M, N), z and ε (M, S, B, L)."""
    seeds = sorted({run.seed for group in groups for run in group.runs})
    t = cfg.training
    draws = {
        seed: epoch_draws(seed, epoch, cfg.mixture.n_train, steps, t.batch_size, cfg.network.latent_dim)
        for seed in seeds
    }
    inputs = []
    for group in groups:
        order, z, eps = (torch.stack([draws[run.seed][i] for run in group.runs]) for i in range(3))
        inputs.append((order.to(device), z.to(device=device, dtype=dtype), eps.to(device=device, dtype=dtype)))
    return inputs


def recomputed_statistics(
    group: RunGroup, data: torch.Tensor, settings: BatchNormConfig, latent_dim: int
) -> dict[str, torch.Tensor]:
    """The batch-norm statistics of the group's final weights (batched state-dict entries).

    Each pass runs ``model.logits`` as a training step does (x, its ε and prior z on the model
    axis), every run drawing its own batches from its own seed, so a run trained alone gets the
    statistics it gets in the stack. The model keeps its running averages.
    """
    model = group.model
    parameter = next(model.parameters())

    def forward(k: int) -> None:
        draws = [batchnorm_draws(run.seed, k, len(data), settings.batch_size, latent_dim) for run in group.runs]
        index, z, eps = (torch.stack([d[i] for d in draws]).to(parameter.device) for i in range(3))
        model.logits(data[index], z.to(parameter.dtype), eps.to(parameter.dtype))

    return batchnorm.recompute_statistics(model, forward, settings.batches)


def train_toy(
    cfg: ToyConfig,
    hyperparameter_set: str,
    out_path: str | Path,
    log_path: str | Path,
    checkpoint_path: str | Path,
    device: torch.device,
    device_label: str,
    batchnorm_settings: BatchNormConfig,
    seeds: tuple[int, ...] | None = None,
    dtype: torch.dtype = torch.float32,
    cuda_graphs: bool = True,
    progress: bool = True,
    checkpoint_seconds: float = 0.0,
) -> dict:
    """Train, checkpointing as it goes, and write the final models file and the training log.

    ``batchnorm_settings`` says how the final weights' batch-norm statistics are recomputed (its
    ``statistics`` key, an evaluation choice, is not read here). Returns the models payload written.
    """
    runs = plan_runs(cfg, hyperparameter_set, seeds)
    batch, epochs = cfg.training.batch_size, cfg.training.epochs
    fingerprint = config_hash(
        {
            "toy": length_free(as_dict(cfg), "training"),
            "set": hyperparameter_set,
            "runs": [r.name for r in runs],
            "dtype": str(dtype),
        }
    )
    _, (x_train, _), _ = train_and_test(cfg.mixture)
    data = torch.from_numpy(x_train).to(device=device, dtype=dtype)  # (N, 2), resident on the device
    groups = [build_group(cfg, [r for r in runs if r.model == kind], device, dtype, cuda_graphs) for kind in cfg.models]
    steps = cfg.mixture.n_train // batch  # a partial last batch is dropped; the order changes every epoch

    def run_epoch(epoch: int) -> tuple[list[dict], dict]:
        inputs = epoch_inputs(groups, cfg, epoch, steps, device, dtype)
        sums = [torch.zeros(len(MONITORS), len(group.runs), device=device, dtype=dtype) for group in groups]
        for step in range(steps):
            for group, (order, z, eps), total in zip(groups, inputs, sums, strict=True):
                x = data[order[:, step * batch : (step + 1) * batch]]  # (M, B, 2) gather
                total += group.step(x, z[:, step], eps[:, step])
        rows = []
        for group, total in zip(groups, sums, strict=True):
            means = (total / steps).cpu().tolist()
            for index, run in enumerate(group.runs):
                rows.append(
                    {
                        "epoch": epoch + 1,
                        "run": run.name,
                        "model": run.model,
                        "hyperparameter_set": run.hyperparameter_set,
                        "seed": run.seed,
                        **{name: means[m][index] for m, name in enumerate(MONITORS)},
                    }
                )
        return rows, {"loss_d": sums[0][0].mean().item() / steps, "loss_g": sums[0][1].mean().item() / steps}

    log_rows, wall = run_epochs(
        run_epoch,
        epochs=epochs,
        checkpoint_path=checkpoint_path,
        checkpoint_every=cfg.training.checkpoint_every,
        fingerprint=fingerprint,
        get_state=lambda: [group.state() for group in groups],
        set_state=lambda states: [group.load(state) for group, state in zip(groups, states, strict=True)],
        desc=f"toy {hyperparameter_set}",
        progress=progress,
        on_rows=partial(write_log, log_path, columns=LOG_COLUMNS),
        checkpoint_seconds=checkpoint_seconds,
        length_key="toy.training.epochs",
    )
    diverged = _first_nonfinite_epoch(log_rows)
    payload = {
        "format": MODELS_FORMAT,
        "config": as_dict(cfg),
        "config_hash": config_hash(as_dict(cfg)),
        "hyperparameter_set": hyperparameter_set,
        "runs": [{"run": run.name, **run.as_row(), "diverged_epoch": diverged.get(run.name)} for run in runs],
        "models": {
            group.runs[0].model: {k: v.detach().cpu() for k, v in group.model.state_dict().items()} for group in groups
        },
        "bn_recomputed": {
            group.runs[0].model: recomputed_statistics(group, data, batchnorm_settings, cfg.network.latent_dim)
            for group in groups
        },
        "batchnorm": {"batches": batchnorm_settings.batches, "batch_size": batchnorm_settings.batch_size},
        "model_runs": {group.runs[0].model: [run.name for run in group.runs] for group in groups},
        "epochs": epochs,
        "dtype": str(dtype).removeprefix("torch."),
        "device": device_label,
        "wall_time_s": wall,
    }
    checkpoint.save(out_path, payload)
    return payload


def _first_nonfinite_epoch(rows: list[dict]) -> dict[str, int]:
    first: dict[str, int] = {}
    for row in rows:
        if row["run"] not in first and not all(abs(row[m]) < float("inf") for m in MONITORS):
            first[row["run"]] = row["epoch"]
    return first


def check_trained_with(path: str | Path, payload: dict, toy: ToyConfig, bn: BatchNormConfig) -> None:
    """Refuse a models file whose runs were trained with other toy settings (or another BN
    recomputation) than ``toy`` and ``bn`` ask for: one line naming the first differing key."""
    hyperparameter_set = payload["hyperparameter_set"]
    trained = {
        "toy": trained_with.toy_training(payload["config"], hyperparameter_set),
        "batchnorm": payload["batchnorm"],
    }
    asked = {
        "toy": trained_with.toy_training(as_dict(toy), hyperparameter_set),
        "batchnorm": trained_with.batchnorm_training(as_dict(bn)),
    }
    trained_with.check(path, trained, asked)
    held = sorted({run["seed"] for run in payload["runs"]})
    if held != sorted(toy.seeds):  # a file trained with --seeds holds only some of its config's seeds
        raise trained_with.ModelMismatch(
            f"'{path}' holds the runs of seeds {held}, but the config asks for toy.seeds = {sorted(toy.seeds)}: retrain it "
            f"with the config's seeds (toy-train without --seeds; in the workflow: {trained_with.forcerun(path)}) or set "
            "toy.seeds to the seeds it holds"
        )


def load_models(
    path: str | Path,
    statistics: str,
    device: torch.device = torch.device("cpu"),
    *,
    toy: ToyConfig | None = None,
    bn: BatchNormConfig | None = None,
) -> tuple[dict, dict[str, ToyGAN]]:
    """The models file's metadata and one batched model per kind, in eval mode on ``device``.

    ``statistics`` picks the batch-norm statistics: ``recomputed`` for the final weights or the
    ``running`` averages of training (``ali_bench.batchnorm.STATISTICS``). With ``toy`` and ``bn``
    (the consumer's config, both or neither), a file trained with other settings is refused
    (``check_trained_with``).
    """
    payload = checkpoint.load(path, MODELS_FORMAT)
    if toy is not None or bn is not None:
        if toy is None or bn is None:
            raise TypeError("load_models checks a file against toy and bn together: give both or neither")
        check_trained_with(path, payload, toy, bn)
    net = from_dict(ToyNetworkConfig, payload["config"]["network"], "toy.network")
    models = {}
    for kind, state in payload["models"].items():
        model = TOY_MODELS[kind](net, n_models=len(payload["model_runs"][kind])).to(getattr(torch, payload["dtype"]))
        model.load_state_dict(batchnorm.with_statistics(state, payload["bn_recomputed"][kind], statistics))
        models[kind] = model.to(device).eval()
    return payload, models


def train_alone(
    cfg: ToyConfig, run: RunSpec, device: torch.device, dtype: torch.dtype = torch.float32, max_steps: int | None = None
) -> ToyGAN:
    """The naive way: one run, plain nn layers, torch.optim.Adam, eager. Same data, noise and init.

    It exists as the reference the batched trainer is tested against (a run trained in the stack
    must end where it ends here) and as the baseline the throughput benchmark compares with.
    """
    _, (x_train, _), _ = train_and_test(cfg.mixture)
    data = torch.from_numpy(x_train).to(device=device, dtype=dtype)
    model = TOY_MODELS[run.model](cfg.network)
    model.load_state_dict(initial_state(cfg, run))
    model.to(device=device, dtype=dtype).train()
    adam = partial(torch.optim.Adam, lr=run.lr, betas=(run.beta1, cfg.training.adam_beta2), eps=cfg.training.adam_eps)
    opt_d, opt_g = adam(model.discriminator_parameters()), adam(model.generator_parameters())
    batch = cfg.training.batch_size
    steps = cfg.mixture.n_train // batch
    done = 0
    for epoch in range(cfg.training.epochs):
        order, z, eps = epoch_draws(run.seed, epoch, cfg.mixture.n_train, steps, batch, cfg.network.latent_dim)
        order, z, eps = order.to(device), z.to(device=device, dtype=dtype), eps.to(device=device, dtype=dtype)
        for step in range(steps):
            if max_steps is not None and done >= max_steps:
                return model
            adversarial_step(model, opt_d, opt_g, data[order[step * batch : (step + 1) * batch]], z[step], eps[step])
            done += 1
    return model
