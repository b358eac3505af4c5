"""Numbers other papers reported, each with where it was printed. Only tables' ``paper_*`` columns use them.

Sources are the camera-ready ALI paper (arXiv 1606.00704v3 = the LaTeX in the released repository,
see ../shared/reference/ali-paper-and-code.md) and, where the project compares with later reruns,
the paper that reported the rerun.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reported:
    """One reported statistic: ``mean`` ± ``pm`` (what ``pm`` is: ``pm_is``), optional min/max."""

    mean: float
    pm: float | None
    pm_is: str
    source: str
    minimum: float | None = None
    maximum: float | None = None


ALI_TOY_SOURCE = "ALI paper (Dumoulin et al., ICLR 2017), Sec. 4.5 text beside Fig. 8; random lr, beta1, init std; 10 runs"
PACGAN_TOY_SOURCE = (
    "PacGAN (Lin et al., NeurIPS 2018), 2-D grid rerun of ALI's released code (lr 1e-4, beta1 0.8, "
    "init std 0.02), 400 epochs, 10 trials; its modes count high-quality samples"
)

# Toy 25-Gaussian experiment: modes covered, keyed by (model, hyperparameter set).
TOY_MODES: dict[tuple[str, str], Reported] = {
    ("ali", "random"): Reported(13.4, 5.8, "std (kind not stated)", ALI_TOY_SOURCE, 8, 25),
    ("gan", "random"): Reported(10.4, 9.2, "std (kind not stated)", ALI_TOY_SOURCE, 1, 22),
    ("ali", "released"): Reported(24.1, 0.4, "standard error", PACGAN_TOY_SOURCE),
    ("gan", "released"): Reported(17.3, 0.8, "standard error", PACGAN_TOY_SOURCE),
}

TOY_INFERENCE_SOURCE = "ALI paper, Sec. 4.5 bullet list on Fig. 8 (qualitative; no numbers published)"

# What the paper says of each column of Fig. 8, condensed; the table puts our numbers beside these.
TOY_INFERENCE_CLAIMS: dict[str, str] = {
    "ali": "q(z) matches p(z) fairly well; components clustered and organised in z; best mode coverage",
    "inverse": "encoder covers the prior poorly, clusters badly organised; reconstructions suffer from dropped modes",
    "posthoc": "worse than learning inference jointly; matches q(z) to p(z) better than the inverse mapping",
    "vae": "covers all modes easily, excels at reconstruction; smears density and leaves holes in q(z)",
}

SVHN_TABLE_SOURCE = "ALI paper, Table 1 (SVHN test misclassification, 1,000 labels)"
SVHN_ALI_L2SVM = Reported(19.14, 0.50, "std over 100 SVMs", SVHN_TABLE_SOURCE)
SVHN_DCGAN_L2SVM = Reported(22.18, None, "", SVHN_TABLE_SOURCE + ": DCGAN + L2-SVM (Radford et al.)")

SEMISUP_SOURCES = {
    "svhn": "ALI paper, Table 1 (SVHN test misclassification, 1,000 labels); the +- is not said to be 1 or 3 std",
    "cifar10": "ALI paper, Table 2 (CIFAR-10 test misclassification); for ALI the +- is 3 std (caption)",
}
# (dataset, labels) -> (ALI K+1 without feature matching, GAN with feature matching of Salimans et al.)
SEMISUP: dict[tuple[str, int], tuple[Reported, Reported]] = {
    ("svhn", 1000): (Reported(7.42, 0.65, "+- (1 or 3 std not stated)", SEMISUP_SOURCES["svhn"]),
                     Reported(8.11, 1.3, "+-", SEMISUP_SOURCES["svhn"])),
    ("cifar10", 1000): (Reported(19.98, 0.89, "3 std", SEMISUP_SOURCES["cifar10"]), Reported(21.83, 2.01, "+-", SEMISUP_SOURCES["cifar10"])),
    ("cifar10", 2000): (Reported(19.09, 0.44, "3 std", SEMISUP_SOURCES["cifar10"]), Reported(19.61, 2.09, "+-", SEMISUP_SOURCES["cifar10"])),
    ("cifar10", 4000): (Reported(17.99, 1.62, "3 std", SEMISUP_SOURCES["cifar10"]), Reported(18.63, 2.32, "+-", SEMISUP_SOURCES["cifar10"])),
    ("cifar10", 8000): (Reported(17.05, 1.49, "3 std", SEMISUP_SOURCES["cifar10"]), Reported(17.72, 1.82, "+-", SEMISUP_SOURCES["cifar10"])),
}
