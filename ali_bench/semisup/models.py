"""The semi-supervised stage's models: one record each, under the one name used everywhere.

A model's name is its config entry (``semisup.models``), its ``semisup-train --model`` choice, the
workflow's ``{model}`` wildcard and file names, its result file's ``model`` field and its row in
``semisup_table.csv``: one spelling from the config to the table, so that a reader can go from a
table row to the file and the command that made it without a translation table. Adding a model is
one module (its networks, step and evaluation), one entry here, and its branch where ``train.py``
builds and steps the model (today's two share ``model.py``'s step, told apart by ``supervised_only``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SemisupModel:
    name: str  # the one spelling: config, --model, wildcard, file name, result, table row
    description: str  # one line for the table's notes and --help
    learns_from_unlabelled: bool  # False: D sees the labelled pairs alone (the supervised baseline)
    judged_against_paper: bool  # the paper's Tables 1-2 report this model: its numbers sit beside the row


MODELS = {
    model.name: model
    for model in (
        SemisupModel(
            "ali",
            "K+1-class ALI: D on (x, z) pairs with K class logits, the encoder and decoder trained against it "
            "(a reconstruction, docs/semi-supervised.md)",
            learns_from_unlabelled=True,
            judged_against_paper=True,
        ),
        SemisupModel(
            "supervised",
            "the same discriminator trained on the labelled pairs alone, its encoder left at initialisation "
            "(the baseline that any semi-supervised gain is measured against)",
            learns_from_unlabelled=False,
            judged_against_paper=False,
        ),
    )
}
NAMES = tuple(MODELS)


def semisup_model(name: str) -> SemisupModel:
    """The record of ``name``, or one line naming the choices."""
    if name not in MODELS:
        raise ValueError(f"unknown semi-supervised model {name!r}; expected one of {', '.join(NAMES)}")
    return MODELS[name]
