"""The semi-supervised stage's models: one record each, under the one name used everywhere.

A model's name is its config entry (``semisup.models``), its ``semisup-train --model`` choice, the
workflow's ``{model}`` wildcard and file names, its result file's ``model`` field and its row in
``semisup_table.csv``: one spelling from the config to the table, so that a reader can go from a
table row to the file and the command that made it without a translation table. Adding a model is
one module (its networks, step and evaluation, as ``feature_matching.py``), one entry here, and its
branch where ``train.py`` builds and steps the model.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SemisupModel:
    name: str  # the one spelling: config, --model, wildcard, file name, result, table row
    description: str  # one line for the table's notes and --help
    learns_from_unlabelled: bool  # False: D sees the labelled pairs alone (the supervised baseline)
    paper_number: str | None  # which of the paper's Tables 1-2 numbers judges it: "ali", "gan_fm", or none
    encoder: bool  # D sees (x, z) with z from an encoder: the posterior-mean and prior-z evaluations exist


MODELS = {
    model.name: model
    for model in (
        SemisupModel(
            "ali",
            "K+1-class ALI: D on (x, z) pairs with K class logits, the encoder and decoder trained against it "
            "(a reconstruction, docs/semi-supervised.md)",
            learns_from_unlabelled=True,
            paper_number="ali",
            encoder=True,
        ),
        SemisupModel(
            "supervised",
            "the same discriminator trained on the labelled pairs alone, its encoder left at initialisation "
            "(the baseline that any semi-supervised gain is measured against)",
            learns_from_unlabelled=False,
            paper_number=None,
            encoder=True,
        ),
        SemisupModel(
            "gan-fm",
            "improved-GAN's GAN with feature matching (Salimans et al. 2016), the paper's quoted baseline, trained "
            "here: D on x alone, G trained to match D's features (semisup.<dataset>.gan_fm_nets; semisup/feature_matching.py)",
            learns_from_unlabelled=True,
            paper_number="gan_fm",
            encoder=False,
        ),
    )
}
NAMES = tuple(MODELS)


def semisup_model(name: str) -> SemisupModel:
    """The record of ``name``, or one line naming the choices."""
    if name not in MODELS:
        raise ValueError(f"unknown semi-supervised model {name!r}; expected one of {', '.join(NAMES)}")
    return MODELS[name]
