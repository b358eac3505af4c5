"""Numbers other papers reported, each with where it was printed, how its ± was computed and the setup
it was measured under. Only tables' ``paper_*`` columns and the verdict (``ali_bench/verdict/``) use them.

Sources: the camera-ready ALI paper (arXiv 1606.00704v3, the LaTeX in the released repository
IshmaelBelghazi/ALI) and, where the project compares with a later rerun, the paper that reported it
(PacGAN, Lin et al., NeurIPS 2018, Table 1, and its released code fjxmlzn/PacGAN). Each setup lists
only what its reporter published or released; a key it never stated is ``UNPUBLISHED``, which the
verdict lists as unknown, never as a match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

UNPUBLISHED = "not published"

# What a reported ± is (``Reported.spread``), as the verdict converts it to a sample std:
SPREADS = {
    "std": "sample standard deviation over the runs",
    "population_std": "population standard deviation over the runs (numpy.std)",
    "std_ddof_unknown": "a standard deviation over the runs, sample or population not stated",
    "sem": "standard error of the mean over the runs",
    "3std": "three standard deviations over the runs",
    "1_or_3_std": "one or three standard deviations, not stated which",
    "unknown": "a +- of unstated kind",
    "none": "no spread published",
}


@dataclass(frozen=True)
class Reported:
    """One reported statistic: ``mean`` ± ``pm`` over ``n`` runs, ``pm`` being a ``spread`` (a key of
    SPREADS; ``pm_is`` says it in words), measured under ``setup``; optional min/max."""

    mean: float
    pm: float | None
    pm_is: str
    source: str
    spread: str = "none"
    n: int | None = None  # runs (or SVMs) the ± is over; None = not published
    setup: dict[str, Any] = field(default_factory=dict)
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if self.spread not in SPREADS:
            raise ValueError(f"unknown spread kind {self.spread!r}; expected one of {sorted(SPREADS)}")


# --------------------------------------------------------------------------------------------------
# Toy 25-Gaussian mixture

TOY_NETWORK = "encoder 400-400, decoder 400-400-400-400, D 3 x 200 maxout (5 pieces)"
_TOY_DATA = {"mixture": "5 x 5 grid on {-4,-2,0,2,4}^2, std 0.05", "training points": 100_000, "batch size": 100}

ALI_TOY_SOURCE = (
    "ALI paper (Dumoulin et al., ICLR 2017), Sec. 4.5 text beside Fig. 8; random lr, beta1, init std; 10 runs"
)
ALI_TOY_SETUP = {
    **_TOY_DATA,
    "network": TOY_NETWORK,
    "epochs": 200,  # the released toy script's length; the paper states none of its own
    "samples scored": 10_000,  # each assigned to its component of highest responsibility
    "hyperparameter ranges": UNPUBLISHED,  # lr, beta1 and init std drawn per run from ranges never published
    "batch-norm statistics at scoring": UNPUBLISHED,
}

PACGAN_TOY_SOURCE = (
    "PacGAN (Lin et al., NeurIPS 2018), Table 1, 2D-grid: rerun of ALI's released code (lr 1e-4, Blocks beta1 0.8, "
    "init std 0.02), 400 epochs, 2,500 samples per trial, mean +- standard error over 10 trials"
)
PACGAN_TOY_SETUP = {
    **_TOY_DATA,
    "network": TOY_NETWORK,
    "epochs": 400,  # synthetic_data_experiments/*/config.py num_epoch / NUM_EPOCHS
    "samples scored": 2_500,  # GraphLogger(num_samples=2500): one fixed z draw per trial
    "high-quality radius (std)": 3.0,  # MetricLogger(dis_thre=3): nearest mean within 3 std
    "lr": 1e-4,
    "init std": 0.02,
    # Blocks Adam(beta1=0.8): PyTorch 0.2 or 0.8 by the Blocks it ran on, which is not known, so either
    # is PacGAN's setup (docs/paper-vs-code.md, "Conventions of 2016 libraries")
    "beta1 (PyTorch convention)": (0.2, 0.8),
    # GraphLogger applies the decoder outside Blocks' batch_normalization context: population
    # statistics, i.e. the running averages (momentum 0.05) the training updated.
    "batch-norm statistics at scoring": "running",
}

# (model, hyperparameter set) -> modes covered, under the reporter's own protocol.
TOY_MODES: dict[tuple[str, str], Reported] = {
    ("ali", "random"): Reported(
        13.4, 5.8, "std (kind not stated)", ALI_TOY_SOURCE, "std_ddof_unknown", 10, ALI_TOY_SETUP, 8, 25
    ),
    ("gan", "random"): Reported(
        10.4, 9.2, "std (kind not stated)", ALI_TOY_SOURCE, "std_ddof_unknown", 10, ALI_TOY_SETUP, 1, 22
    ),
    ("ali", "released"): Reported(24.1, 0.4, "standard error", PACGAN_TOY_SOURCE, "sem", 10, PACGAN_TOY_SETUP),
    ("gan", "released"): Reported(17.3, 0.8, "standard error", PACGAN_TOY_SOURCE, "sem", 10, PACGAN_TOY_SETUP),
}
# PacGAN's Table 1 beside its modes: the share of high-quality samples (in %) and the reverse KL
# between the high-quality samples' mode histogram and the uniform one (nats).
PACGAN_HIGH_QUALITY_PCT: dict[str, Reported] = {
    "ali": Reported(95.7, 0.6, "standard error", PACGAN_TOY_SOURCE, "sem", 10, PACGAN_TOY_SETUP),
    "gan": Reported(94.8, 0.7, "standard error", PACGAN_TOY_SOURCE, "sem", 10, PACGAN_TOY_SETUP),
}
PACGAN_REVERSE_KL: dict[str, Reported] = {
    "ali": Reported(0.14, 0.03, "standard error", PACGAN_TOY_SOURCE, "sem", 10, PACGAN_TOY_SETUP),
    "gan": Reported(0.70, 0.07, "standard error", PACGAN_TOY_SOURCE, "sem", 10, PACGAN_TOY_SETUP),
}

TOY_INFERENCE_SOURCE = "ALI paper, Sec. 4.5 bullet list on Fig. 8 (qualitative; no numbers published)"

# What the paper says of each column of Fig. 8, condensed; the table puts our numbers beside these.
TOY_INFERENCE_CLAIMS: dict[str, str] = {
    "ali": "q(z) matches p(z) fairly well; components clustered and organised in z; best mode coverage",
    "inverse": "encoder covers the prior poorly, clusters badly organised; reconstructions suffer from dropped modes",
    "posthoc": "worse than learning inference jointly; matches q(z) to p(z) better than the inverse mapping",
    "vae": "covers all modes easily, excels at reconstruction; smears density and leaves holes in q(z)",
}

# --------------------------------------------------------------------------------------------------
# SVHN L2-SVM (Table 1): the ± is over 100 SVMs fit on fresh label draws for ONE trained encoder
# (experiments/semi_supervised_svhn.py prints numpy.std), not over training seeds.

SVHN_TABLE_SOURCE = "ALI paper, Table 1 (SVHN test misclassification, 1,000 labels)"
SVHN_SVM_SETUP = {
    "dataset": "svhn",
    "network width": 1.0,
    "training": "100 epochs of svhn extra, batch 100",  # experiments/ali_svhn.py
    "feature dimension": 8960,  # the paper's text; the released script builds 5,376
    "labels per SVM": 1000,
    "test examples": 26_032,
    "values of C": 50,
    "label sampling": ("balanced", "random"),  # code: 100 per class; paper: "1,000 random examples"
    "trained encoders": 1,
}
SVHN_ALI_L2SVM = Reported(
    19.14, 0.50, "population std over 100 SVMs of one encoder", SVHN_TABLE_SOURCE, "population_std", 100, SVHN_SVM_SETUP
)
SVHN_DCGAN_L2SVM = Reported(22.18, None, "", SVHN_TABLE_SOURCE + ": DCGAN + L2-SVM (Radford et al.)")

# --------------------------------------------------------------------------------------------------
# K+1 semi-supervised (Tables 1-2). Neither the number of runs behind a ± nor the K+1 code, its
# architecture or its training length was published.

SEMISUP_SOURCES = {
    "svhn": "ALI paper, Table 1 (SVHN test misclassification, 1,000 labels); the +- is not said to be 1 or 3 std",
    "cifar10": "ALI paper, Table 2 (CIFAR-10 test misclassification); for ALI the +- is 3 std (caption)",
}


def _semisup_setup(dataset: str, labels: int) -> dict[str, Any]:
    return {"dataset": dataset, "labels": labels, "network width": 1.0, "epochs": UNPUBLISHED, "runs": UNPUBLISHED}


def _ali(dataset: str, labels: int, mean: float, pm: float) -> Reported:
    spread, words = ("3std", "3 std") if dataset == "cifar10" else ("1_or_3_std", "+- (1 or 3 std not stated)")
    return Reported(mean, pm, words, SEMISUP_SOURCES[dataset], spread, None, _semisup_setup(dataset, labels))


def _gan_fm(dataset: str, labels: int, mean: float, pm: float) -> Reported:
    return Reported(
        mean,
        pm,
        "+- (kind not stated in the ALI paper)",
        SEMISUP_SOURCES[dataset] + "; GAN with feature matching (Salimans et al.)",
        "unknown",
        None,
        _semisup_setup(dataset, labels),
    )


# (dataset, labels) -> (ALI K+1 without feature matching, GAN with feature matching of Salimans et al.)
SEMISUP: dict[tuple[str, int], tuple[Reported, Reported]] = {
    ("svhn", 1000): (_ali("svhn", 1000, 7.42, 0.65), _gan_fm("svhn", 1000, 8.11, 1.3)),
    ("cifar10", 1000): (_ali("cifar10", 1000, 19.98, 0.89), _gan_fm("cifar10", 1000, 21.83, 2.01)),
    ("cifar10", 2000): (_ali("cifar10", 2000, 19.09, 0.44), _gan_fm("cifar10", 2000, 19.61, 2.09)),
    ("cifar10", 4000): (_ali("cifar10", 4000, 17.99, 1.62), _gan_fm("cifar10", 4000, 18.63, 2.32)),
    ("cifar10", 8000): (_ali("cifar10", 8000, 17.05, 1.49), _gan_fm("cifar10", 8000, 17.72, 1.82)),
}
