"""The quick run's digits ALI learns inference: a seeded CPU training through the real code path
(``train_images``, BN statistics recomputed, ``load_model``, ``reconstruction_metrics``) at exactly
``config/quick.yaml``'s settings, whose reconstructions keep their input's class at least 16 % of the
time (chance 10 %).

What it guards: the adversarial objective (the generator's swapped labels through the joint
D(x, z)) and the encoder's training; a model that runs but does not learn inference reconstructs
other digits. Settings: the quick config's (quarter width, batch 50, lr 6e-4, 2,500 steps, seed 0),
read from the file, so that changing the quick run changes what is tested.

Threshold: from the spread of seeds and CPUs, not from one run. Seed 0 is bit-for-bit the same run
only on one CPU: another CPU's kernels round differently and adversarial training amplifies it, so
each CPU draws its own point of the spread (benchmarks/digits_label_agreement.py, 2026-12-06):

    Intel Xeon, AVX-512 kernels, seeds 0-4:   32.8 / 35.6 / 29.2 / 30.4 / 27.2 %
    Intel Xeon, AVX2 kernels forced, seed 0:  35.2 %
    AMD EPYC (this sandbox and a CI machine), seed 0:  19.6 %, 20.0 %

The lowest, 19.6 %, less 1.5 binomial standard deviations over 250 images (2.5 points) gives 16 %;
the former threshold, 25 % (the quick run's target), failed on the AMD machines. Broken on purpose
once (2026-12-05, these settings, Intel): the encoder left out of the generator's parameters (never
updated) gave BROKEN, 11.6 %, two binomial std under the threshold. Earlier, at 1,200 steps and lr
1e-3 (2026-11-30): the generator trained on the discriminator's objective gave 9.6 %, the frozen
encoder 8.8 %.

Cost: about 4.5 minutes on one thread.
"""

from pathlib import Path

import torch
import yaml

from ali_bench.config import load_config
from ali_bench.data.images import load_split
from ali_bench.images import figures
from ali_bench.images import train as image_train

QUICK = Path(__file__).resolve().parents[2] / "config" / "quick.yaml"
MEASURED = (0.328, 0.356, 0.292, 0.304, 0.272, 0.352, 0.196, 0.200)  # the runs listed above, in that order
BROKEN = 0.116  # the encoder never updated, same settings (MSE 0.0568)
THRESHOLD = 0.16  # the lowest run measured, less 1.5 binomial std


def train_and_measure(tmp_path) -> dict:
    """Run it on one thread (the ``one_thread`` fixture): same seed, same numbers on CPU."""
    quick = yaml.safe_load(QUICK.read_text())
    cfg = load_config({"device": "cpu", "images": quick["images"]})
    train, valid = load_split("digits", "train", "unused"), load_split("digits", "valid", "unused")
    image_train.train_images(
        "digits",
        cfg.images,
        train,
        tmp_path / "m.pt",
        tmp_path / "l.csv",
        tmp_path / "c.pt",
        torch.device("cpu"),
        "cpu",
        progress=False,
        bn=cfg.batchnorm,
    )
    _, model = image_train.load_model(tmp_path / "m.pt", statistics="recomputed")
    return figures.reconstruction_metrics(model, valid, cfg.images.seed, train)


def test_the_quick_runs_digits_reconstructions_keep_their_class(tmp_path, one_thread):
    metrics = train_and_measure(tmp_path)
    assert metrics["label_agreement"] >= THRESHOLD, metrics


def test_the_threshold_sits_between_the_broken_run_and_every_measured_run():
    assert BROKEN < THRESHOLD < min(MEASURED)
