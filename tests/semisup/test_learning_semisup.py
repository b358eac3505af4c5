"""Learning test: the K+1-class model on the embedded digits learns to classify, and learns it as a GAN.

Seeded, CPU, one thread: the quick config's model (the SVHN architecture at a quarter of its
channels, improved-GAN's weight-normalised D), 100 labels, 8 epochs = 96 steps. Thresholds come
from measured runs (seed 0, 2026-11-29) with a margin, and each was seen to fail once with what it
guards broken:

- test error (averaged D, recomputed statistics, ẑ sampled): measured 17.2 %; threshold 40 %
  (chance 90 %). With the labelled loss cut (× 0) the run measured 86.8 %.
- the adversarial game is on at the end: the last epoch's mean unlabelled loss measured 0.276
  (D cannot tell every generated pair from data); threshold 0.1. With the generator's labels
  swapped back (encoder and decoder minimising D's own real/fake loss) it measured 0.034, while
  the test error stayed low (13.6 %): test error alone does not guard the generator's labels.
"""

import csv

import pytest
import torch

from ali_bench.data.images import load_split
from ali_bench.semisup import evaluate as semisup_evaluate
from ali_bench.semisup import settings as semisup_settings
from ali_bench.semisup import train as semisup_train

TEST_ERROR_BELOW = 0.40
LAST_UNLABELLED_LOSS_ABOVE = 0.1


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        settings = semisup_settings.SemisupSettings(
            "digits",
            100,
            0,
            8,
            100,
            3e-4,
            0.5,
            1 / 3,
            0.9999,
            0.25,
            "code",
            "ali",
            d_batchnorm="weightnorm",
            bn_batches=2,
            bn_batch_size=250,
        )
        load = lambda split: load_split("digits", split, root="data")  # embedded: no files read
        out = tmp_path_factory.mktemp("semisup")
        result = semisup_train.train_semisup(
            settings,
            load("train"),
            load("train"),
            load("test"),
            out / "r.json",
            out / "log.csv",
            out / "c.pt",
            torch.device("cpu"),
            progress=False,
        )
        rows = list(csv.DictReader(open(out / "log.csv")))
    finally:
        torch.set_num_threads(threads)
    return result, rows


def test_k_plus_one_on_digits_classifies_clearly_better_than_chance(digits_run):
    result, _ = digits_run
    error = semisup_evaluate.headline(result, "recomputed")["test_error_sampled"]
    assert error < TEST_ERROR_BELOW, f"K+1 test error {error:.3f}, chance 0.9"


def test_k_plus_one_generator_still_fights_the_discriminator_at_the_end(digits_run):
    _, rows = digits_run
    last = float(rows[-1]["loss_unl"])
    assert last > LAST_UNLABELLED_LOSS_ABOVE, f"last epoch's unlabelled loss {last:.3f}: D wins outright"
