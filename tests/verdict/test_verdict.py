"""The verdict: every branch reached from small synthetic tables, the statistics checked against
scipy, and a reported number or a protocol field flipped flips the verdict."""

import dataclasses
import json
import math
import shutil

import pandas as pd
import pytest
from scipy import stats

from ali_bench import provenance, trained_with
from ali_bench.config import VerdictConfig, as_dict, load_config
from ali_bench.paper import SEMISUP, SVHN_ALI_L2SVM, TOY_MODES
from ali_bench.verdict.comparisons import semisup_comparisons, svm_comparisons, table_comparisons, toy_comparisons
from ali_bench.verdict.decide import judge
from ali_bench.verdict.statistics import Summary, compare_means, sample_std

from conftest import REPO, run_cli

RULE = VerdictConfig(alpha=0.05, min_runs=5)

# A run of the toy under PacGAN's setup (config/toy-pacgan.yaml at its defaults), as its provenance records it.
PACGAN_TRAINED = {
    "mixture": {"grid": [-4.0, -2.0, 0.0, 2.0, 4.0], "std": 0.05, "n_train": 100000},
    "network": {
        "encoder_hidden": [400, 400],
        "decoder_hidden": [400, 400, 400, 400],
        "discriminator_layers": 3,
        "discriminator_units": 200,
        "maxout_pieces": 5,
    },
    "training": {"batch_size": 100, "epochs": 400},
    "released": {"lr": 0.0001, "beta1": 0.2, "init_std": 0.02},
    "random_search": {"lr": {"low": 3e-5, "high": 3e-4, "log": True}},
}
COVERAGE = {"n_samples": 10000, "pacgan_n_samples": 2500, "high_quality_stds": 3.0}


def _toy_record(trained=PACGAN_TRAINED, coverage=COVERAGE, statistics="running", hset="released"):
    return {"config": {"trained": {hset: trained}, "coverage": coverage}, "batchnorm_statistics": statistics}


def _toy_row(
    model="ALI", hset="released", runs=10, modes=(24.0, 0.4), hq=(95.0, 0.5), kl=(0.15, 0.03), ali_modes=(13.0, 5.0)
):
    return {
        "model": model,
        "hyperparameter_set": hset,
        "runs": runs,
        "modes_mean": ali_modes[0],
        "modes_std": ali_modes[1],
        "pacgan_modes_mean": modes[0],
        "pacgan_modes_sem": modes[1],
        "pacgan_high_quality_pct_mean": hq[0],
        "pacgan_high_quality_pct_sem": hq[1],
        "pacgan_reverse_kl_mean": kl[0],
        "pacgan_reverse_kl_sem": kl[1],
    }


def _verdicts(comparisons, measured_only=False):
    return {(c.row, c.statistic): judge(c, RULE) for c in comparisons if c.measured or not measured_only}


def _first(comparisons):
    return judge(comparisons[0], RULE)


def _paper_scale_toy_record(hset, config="config/config.yaml", **training):
    """The provenance a toy table gets from a run of ``config`` (the harness's paper scale by
    default; config/toy-pacgan.yaml for PacGAN's released rows), ``training`` keys overridden."""
    cfg = load_config(REPO / config)
    toy = as_dict(cfg.toy)
    toy["training"].update(training)
    trained = trained_with.toy_training(toy, hset)
    return {
        "config": {"trained": {hset: trained}, "coverage": toy["coverage"]},
        "batchnorm_statistics": cfg.batchnorm.statistics,
    }


# ---------------------------------------------------------------- statistics


@pytest.mark.parametrize(
    "kind, pm, n, expected",
    [
        ("std", 2.0, 10, 2.0),
        ("population_std", 2.0, 10, 2.0 * math.sqrt(10 / 9)),
        ("std_ddof_unknown", 2.0, 10, 2.0 * math.sqrt(10 / 9)),
        ("sem", 0.4, 10, 0.4 * math.sqrt(10)),
        ("3std", 0.9, None, 0.3),
        ("1_or_3_std", 0.65, None, 0.65),
        ("unknown", 1.3, None, 1.3),
        ("none", None, 10, None),
        ("sem", 0.4, None, None),
    ],
)
def test_each_kind_of_spread_becomes_a_sample_std(kind, pm, n, expected):
    value = sample_std(Summary(0.0, pm, kind, n))
    assert value == (None if expected is None else pytest.approx(expected))


def test_welch_from_summaries_matches_scipy():
    measured, reported = Summary(20.0, 1.5, "std", 7), Summary(19.14, 0.5, "population_std", 100)
    test = compare_means(measured, reported)
    expected = stats.ttest_ind_from_stats(20.0, 1.5, 7, 19.14, 0.5 * math.sqrt(100 / 99), 100, equal_var=False)
    assert test.p_value == pytest.approx(expected.pvalue) and test.description.startswith("Welch t")


def test_the_conservative_rule_treats_the_reported_spread_as_one_run():
    # CIFAR-10 1,000 labels: 19.98 +- 0.89 (3 std), n not published -> std 0.2967, as one run
    measured = Summary(19.0, 0.3, "std", 10)
    test = compare_means(measured, Summary(19.98, 0.89, "3std", None))
    t = (19.0 - 19.98) / math.sqrt((0.89 / 3) ** 2 + 0.3**2 / 10)
    assert test.p_value == pytest.approx(2 * stats.t.sf(abs(t), 9)) and "n is not published" in test.description


def test_a_reported_number_without_spread_is_a_one_sample_test():
    measured = Summary(20.0, 1.0, "std", 9)
    test = compare_means(measured, Summary(22.18, None, "none", None))
    assert "one-sample" in test.description
    t = (20.0 - 22.18) / (1.0 / 3)
    assert test.p_value == pytest.approx(2 * stats.t.sf(abs(t), 8))


def test_an_infinite_measured_mean_differs():
    # a run with no high-quality sample has an infinite reverse KL
    judgement = _first(toy_comparisons(pd.DataFrame([_toy_row(kl=(float("inf"), float("nan")))]), _toy_record())[2:])
    assert judgement.verdict == "differs" and "infinite" in judgement.reason


# ---------------------------------------------------------------- every branch, from synthetic tables


def test_consistent_under_pacgans_own_setup():
    verdicts = _verdicts(toy_comparisons(pd.DataFrame([_toy_row()]), _toy_record()))
    assert [v.verdict for v in verdicts.values()] == ["consistent"] * 3 + ["not measured"] * 3
    assert all("Welch" in v.test for v in list(verdicts.values())[:3])
    # every other reported toy number is listed, with the config keys that would measure it
    assert (
        "config keys toy.models, toy.hyperparameter_sets" in verdicts[("GAN, released hyperparameters", "modes")].reason
    )


def test_differs_with_direction_and_test():
    judgement = _first(toy_comparisons(pd.DataFrame([_toy_row(modes=(20.0, 0.3))]), _toy_record()))
    assert judgement.verdict == "differs" and judgement.reason.startswith("lower by 4.1")
    assert judgement.p_value < 0.05 and "Welch t" in judgement.test


def test_flipping_the_reported_number_flips_the_verdict():
    comparison = toy_comparisons(pd.DataFrame([_toy_row()]), _toy_record())[0]
    assert judge(comparison, RULE).verdict == "consistent"
    flipped = dataclasses.replace(comparison, reported=dataclasses.replace(comparison.reported, mean=17.3))
    assert judge(flipped, RULE).verdict == "differs"


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"training": {"batch_size": 100, "epochs": 200}}, "epochs: ours 200, reported 400"),
        ({"released": {"lr": 0.0003, "beta1": 0.2, "init_std": 0.02}}, "lr: ours 0.0003, reported 0.0001"),
        (
            {"released": {"lr": 0.0001, "beta1": 0.5, "init_std": 0.02}},
            "beta1 (PyTorch convention): ours 0.5, reported 0.2 or 0.8",
        ),
        ({"network": {**PACGAN_TRAINED["network"], "encoder_hidden": [128, 128]}}, "network: ours encoder 128-128"),
        (
            {"mixture": {**PACGAN_TRAINED["mixture"], "n_train": 20000}},
            "training points: ours 20,000, reported 100,000",
        ),
    ],
)
def test_flipping_a_protocol_field_makes_it_not_comparable(change, needle):
    trained = {**PACGAN_TRAINED, **change}
    judgement = _first(toy_comparisons(pd.DataFrame([_toy_row()]), _toy_record(trained)))
    assert judgement.verdict == "not comparable" and needle in judgement.reason


def test_samples_scored_and_batchnorm_statistics_are_part_of_the_protocol():
    judgement = _first(
        toy_comparisons(pd.DataFrame([_toy_row()]), _toy_record(coverage={**COVERAGE, "pacgan_n_samples": 10000}))
    )
    assert judgement.verdict == "not comparable" and "samples scored: ours 10,000, reported 2,500" in judgement.reason
    judgement = _first(toy_comparisons(pd.DataFrame([_toy_row()]), _toy_record(statistics="recomputed")))
    assert "batch-norm statistics at scoring: ours recomputed, reported running" in judgement.reason


def test_beta1_08_is_pacgans_other_reading_and_accepted():
    trained = {**PACGAN_TRAINED, "released": {"lr": 0.0001, "beta1": 0.8, "init_std": 0.02}}
    assert _first(toy_comparisons(pd.DataFrame([_toy_row()]), _toy_record(trained))).verdict == "consistent"


def test_a_protocol_mismatch_is_never_hidden_by_matching_numbers():
    # the quick run's setup with PacGAN's exact numbers: still not comparable
    trained = {**PACGAN_TRAINED, "training": {"batch_size": 100, "epochs": 40}}
    judgement = _first(toy_comparisons(pd.DataFrame([_toy_row(modes=(24.1, 0.4))]), _toy_record(trained)))
    assert judgement.verdict == "not comparable"


def test_too_few_runs():
    judgement = _first(toy_comparisons(pd.DataFrame([_toy_row(runs=3)]), _toy_record()))
    assert judgement.verdict == "too few runs" and "verdict.min_runs" in judgement.reason


def test_a_table_without_pacgan_columns_is_not_measured_with_what_to_rerun():
    row = {k: v for k, v in _toy_row().items() if not k.startswith("pacgan_")}
    judgement = _first(toy_comparisons(pd.DataFrame([row]), _toy_record()))
    assert judgement.verdict == "not measured" and "toy_evaluate" in judgement.reason


def test_random_rows_are_judged_against_the_ali_paper_with_the_harness_ranges_where_its_own_are_unpublished():
    """The paper never published its random-search ranges or its scoring batch-norm statistics: both
    are checked against the harness's paper-scale settings, and a run with other ranges is refused."""
    record = _paper_scale_toy_record("random")
    comparisons = toy_comparisons(pd.DataFrame([_toy_row(hset="random", ali_modes=(14.0, 5.0))]), record)
    assert [c.measured is not None for c in comparisons] == [True, False, False, False]
    assert comparisons[0].reported is TOY_MODES[("ali", "random")]
    assert judge(comparisons[0], RULE).verdict == "consistent"
    by_harness = [f.name for f in comparisons[0].fields if f.by_harness]
    assert by_harness == ["hyperparameter ranges", "batch-norm statistics at scoring"]
    assert [f.name for f in comparisons[0].fields if f.status == "unknown"] == []
    only_lr = dict(record["config"]["trained"]["random"], random_search=PACGAN_TRAINED["random_search"])
    narrowed = _first(
        toy_comparisons(
            pd.DataFrame([_toy_row(hset="random", ali_modes=(14.0, 5.0))]),
            {**record, "config": {**record["config"], "trained": {"random": only_lr}}},
        )
    )
    assert narrowed.verdict == "not comparable"
    assert narrowed.reason.startswith(
        "hyperparameter ranges: ours lr 3e-05-0.0003 log, reference lr 3e-05-0.0003 log, beta1"
    )
    assert "(harness paper-scale default, reporter unpublished)" in narrowed.reason


def _svm_row(dataset_dim=8960, labels=1000, test=26032, mean=19.3, std=0.5):
    return {
        "feature_set": "paper",
        "feature_dim": dataset_dim,
        "sampling": "balanced",
        "labels_per_svm": labels,
        "n_svms": 100,
        "test_error_mean_pct": mean,
        "test_error_std_pct": std,
        "test_examples": test,
    }


SVHN_RECORD = {
    "config": {
        "svm": {"n_c": 50},
        "images": {"svhn": {"epochs": 100, "batch_size": 100, "width": 1.0, "train_split": "extra"}},
    }
}


def test_svm_over_100_svms_of_one_encoder_and_dcgan_is_only_quoted():
    verdicts = _verdicts(svm_comparisons("svhn_table", pd.DataFrame([_svm_row()]), SVHN_RECORD, "svhn"))
    paper = verdicts[("ALI L2-SVM, paper features", "test error (%)")]
    assert paper.verdict == "differs" and "higher by 0.16" in paper.reason  # 100 vs 100 SVMs: a tight test
    assert verdicts[("DCGAN + L2-SVM", "test error (%)")].verdict == "not measured"
    close = _first(svm_comparisons("svhn_table", pd.DataFrame([_svm_row(mean=19.2)]), SVHN_RECORD, "svhn"))
    assert close.verdict == "consistent"


def test_digits_stands_in_for_svhn_and_is_not_comparable():
    record = {
        "config": {
            "svm": {"n_c": 50},
            "images": {"digits": {"epochs": 200, "batch_size": 50, "width": 0.25, "train_split": "train"}},
        }
    }
    judgement = _first(svm_comparisons("digits_svm_table", pd.DataFrame([_svm_row(2432, 100, 250)]), record, "digits"))
    assert judgement.verdict == "not comparable" and judgement.reason.startswith("dataset: ours digits, reported svhn")
    assert SVHN_ALI_L2SVM.n == 100


def test_every_datasets_svm_table_is_judged_on_its_own_dataset():
    """The table's dataset comes from the registry, not from its file name (fashion_mnist_svm_table)."""
    record = {
        "config": {
            "svm": {"n_c": 50},
            "images": {"fashion_mnist": {"epochs": 3, "batch_size": 100, "width": 0.5, "train_split": "train"}},
        }
    }
    table = pd.DataFrame([_svm_row(2432, 1000, 10000)])
    judgement = _first(table_comparisons("fashion_mnist_svm_table", table, record))
    assert judgement.verdict == "not comparable"
    assert judgement.reason.startswith("dataset: ours fashion_mnist, reported svhn")
    assert "training: ours 3 epochs of fashion_mnist train, batch 100" in judgement.reason


def _semisup_row(dataset, labels, seeds=10, mean=19.5, std=0.3):
    return {
        "dataset": dataset,
        "labels": labels,
        "model": "ali",
        "seeds": seeds,
        "epochs": 1200,
        "test_error_mean_pct": mean,
        "test_error_std_pct": std,
    }


SEMISUP_RECORD = {"config": {"semisup": {"cifar10": {"width": 1.0}, "svhn": {"width": 1.0}, "digits": {"width": 0.25}}}}


def test_semisup_uses_the_conservative_rule_and_quotes_gan_fm():
    verdicts = _verdicts(semisup_comparisons(pd.DataFrame([_semisup_row("cifar10", 1000)]), SEMISUP_RECORD))
    ali = verdicts[("ALI K+1, cifar10 1,000 labels", "test error (%)")]
    assert ali.verdict == "consistent" and "n is not published" in ali.test
    assert verdicts[("GAN (feature matching), cifar10 1,000 labels", "test error (%)")].verdict == "not measured"
    far = _first(semisup_comparisons(pd.DataFrame([_semisup_row("cifar10", 1000, mean=23.0)]), SEMISUP_RECORD))
    assert far.verdict == "differs"
    digits = semisup_comparisons(pd.DataFrame([_semisup_row("digits", 100)]), SEMISUP_RECORD)
    assert [c.measured is not None for c in digits] == [True] + [False] * (2 * len(SEMISUP))  # ALI and GAN-FM each
    assert digits[0].reported is SEMISUP[("svhn", 1000)][0]
    assert judge(digits[0], RULE).verdict == "not comparable"


# ---------------------------------------------------------------- a short or narrow run is never a reproduction
# Per judged table: the harness's paper-scale settings (config/config.yaml; config/toy-pacgan.yaml for
# PacGAN's rows), as a run of them records its provenance, with planted numbers reach both
# `consistent` and `differs`; the same run shortened to 1 epoch or narrowed to width 0.25 is
# `not comparable`, whatever its numbers.

PAPER = load_config(REPO / "config/config.yaml")


def _verdict_of(comparisons):
    return judge(comparisons[0], RULE)


@pytest.mark.parametrize(
    "hset, config, row",
    [
        ("random", "config/config.yaml", {"ali_modes": (13.4, 5.8)}),
        ("released", "config/toy-pacgan.yaml", {"modes": (24.1, 0.4)}),
    ],
)
def test_toy_paper_scale_is_judged_and_one_epoch_or_a_narrow_network_is_not_comparable(hset, config, row):
    def verdict(record, **planted):
        return _verdict_of(toy_comparisons(pd.DataFrame([_toy_row(hset=hset, **{**row, **planted})]), record))

    paper = _paper_scale_toy_record(hset, config)
    far = {"ali_modes": (5.0, 1.0)} if hset == "random" else {"modes": (12.0, 0.5)}
    assert verdict(paper).verdict == "consistent" and verdict(paper, **far).verdict == "differs"
    short = verdict(_paper_scale_toy_record(hset, config, epochs=1))
    assert short.verdict == "not comparable" and "epochs: ours 1" in short.reason
    narrow = _paper_scale_toy_record(hset, config)
    narrow["config"]["trained"][hset]["network"]["encoder_hidden"] = [100, 100]  # a quarter of the 400 units
    assert verdict(narrow).verdict == "not comparable" and "network: ours encoder 100-100" in verdict(narrow).reason


def _svm_record(dataset, **run):
    images = as_dict(PAPER.images)
    return {"config": {"svm": as_dict(PAPER.svm), "images": {dataset: {**images[dataset], **run}}}}


def test_svhn_svm_paper_scale_is_judged_and_one_epoch_or_width_025_is_not_comparable():
    def verdict(record, mean=19.14):
        return _verdict_of(svm_comparisons("svhn_table", pd.DataFrame([_svm_row(mean=mean)]), record, "svhn"))

    assert verdict(_svm_record("svhn")).verdict == "consistent"
    assert verdict(_svm_record("svhn"), mean=25.0).verdict == "differs"
    short, narrow = verdict(_svm_record("svhn", epochs=1)), verdict(_svm_record("svhn", width=0.25))
    assert short.verdict == "not comparable" and "training: ours 1 epochs of svhn extra" in short.reason
    assert narrow.verdict == "not comparable" and "network width: ours 0.25" in narrow.reason


def test_digits_svm_is_not_comparable_at_any_length():
    for run in ({}, {"epochs": 1}, {"width": 0.25}):
        table = pd.DataFrame([_svm_row(2432, 100, 250, mean=19.14)])
        judgement = _verdict_of(svm_comparisons("digits_svm_table", table, _svm_record("digits", **run), "digits"))
        assert judgement.verdict == "not comparable" and "dataset: ours digits, reported svhn" in judgement.reason


@pytest.mark.parametrize("dataset, labels", [("svhn", 1000), ("cifar10", 4000)])
def test_semisup_paper_scale_is_judged_and_one_epoch_or_width_025_is_not_comparable(dataset, labels):
    """The paper never published its K+1 training length: the harness's own (900 epochs for SVHN,
    1,200 for CIFAR-10) is the reference, so one epoch with the paper's number is not a reproduction."""
    default = as_dict(PAPER.semisup)
    reported = SEMISUP[(dataset, labels)][0]

    def verdict(epochs=default[dataset]["epochs"], width=1.0, mean=reported.mean):
        record = {"config": {"semisup": {**default, dataset: {**default[dataset], "width": width}}}}
        row = {**_semisup_row(dataset, labels, seeds=5, mean=mean, std=0.5), "epochs": epochs}
        return _verdict_of(semisup_comparisons(pd.DataFrame([row]), record))

    assert verdict().verdict == "consistent" and verdict(mean=60.0).verdict == "differs"
    short = verdict(epochs=1)
    assert short.verdict == "not comparable"
    assert short.reason == (
        f"epochs: ours 1, reference {default[dataset]['epochs']:,} (harness paper-scale default, reporter unpublished)"
    )
    assert verdict(width=0.25).verdict == "not comparable"


def test_the_verdict_csv_names_each_harness_reference(tmp_path):
    default = as_dict(PAPER.semisup)
    row = {**_semisup_row("svhn", 1000, seeds=5), "epochs": 1}
    table = _write_table(tmp_path, "semisup_table.csv", [row], {"config": {"semisup": default}})
    run_cli("verdict", "--tables", str(table), "--out", str(tmp_path / "verdict.csv"))
    frame = pd.read_csv(tmp_path / "verdict.csv").set_index("row")
    ali = frame.loc["ALI K+1, svhn 1,000 labels"]
    assert ali["verdict"] == "not comparable"
    assert ali["protocol_reference"] == "epochs 900 (reference: harness paper-scale default, reporter unpublished)"
    assert "runs (training seeds)" in ali["protocol_unknown"]  # neither side has a value: named, never blocking


def test_the_harness_paper_scale_is_config_yaml():
    """The verdict's reference for unpublished fields is the schema defaults; the default config file
    users read must state the same values."""
    from ali_bench.verdict.comparisons import paper_scale

    assert paper_scale() == as_dict(PAPER)


# ---------------------------------------------------------------- the command


def _write_table(folder, name, rows, record):
    path = folder / name
    pd.DataFrame(rows).to_csv(path, index=False)
    provenance.write(path, record)
    return path


def test_verdict_command_writes_csv_markdown_and_provenance_with_checksums(tmp_path):
    toy = _write_table(
        tmp_path,
        "toy_table.csv",
        [_toy_row(), _toy_row("GAN", modes=(17.0, 0.8), hq=(94.0, 0.7), kl=(0.7, 0.07))],
        _toy_record(),
    )
    svhn = _write_table(tmp_path, "svhn_table.csv", [_svm_row()], SVHN_RECORD)
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"verdict": {"alpha": 0.01}}))
    run_cli("verdict", "--config", str(config), "--tables", str(toy), str(svhn), "--out", str(tmp_path / "verdict.csv"))
    frame = pd.read_csv(tmp_path / "verdict.csv")
    # 6 PacGAN numbers, the 2 ALI-paper random rows not trained, SVHN's ALI L2-SVM and DCGAN
    assert len(frame) == 6 + 2 + 2 and set(frame["verdict"]) == {
        "consistent",
        "not measured",
    }  # 19.3 vs 19.14 at alpha 0.01
    assert frame.loc[0, "measured_column"] == "pacgan_modes_mean" and frame.loc[0, "reported_spread_kind"] == "sem"
    text = (tmp_path / "verdict.md").read_text()
    assert "level 0.01" in text and "| toy_table | ALI, released hyperparameters |" in text
    record = provenance.read(tmp_path / "verdict.csv")
    assert list(record["inputs"]) == [
        str(toy),
        str(provenance.sidecar_path(toy)),
        str(svhn),
        str(provenance.sidecar_path(svhn)),
    ]
    assert record["inputs"][str(toy)] == __import__("hashlib").sha256(toy.read_bytes()).hexdigest()


def test_verdict_command_refuses_an_unknown_table_in_one_line(tmp_path):
    path = tmp_path / "toy_inference_table.csv"
    path.write_text("method\nali\n")
    result = run_cli("verdict", "--tables", str(path), "--out", str(tmp_path / "v.csv"), check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "toy_inference_table.csv" in result.stderr and "expected one of" in result.stderr


@pytest.mark.parametrize("twice", ["same path", "a copy"])
def test_verdict_command_refuses_a_table_kind_given_twice(tmp_path, twice):
    """The same table twice once exited 0 with every row doubled."""
    table = REPO / "results/reference/cpu/toy_table.csv"
    other = table
    if twice == "a copy":
        other = tmp_path / "copy" / "toy_table.csv"
        other.parent.mkdir()
        shutil.copy2(table, other)
        shutil.copy2(provenance.sidecar_path(table), provenance.sidecar_path(other))
    result = run_cli("verdict", "--tables", str(table), str(other), "--out", str(tmp_path / "v.csv"), check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "names two toy_table.csv" in result.stderr and not (tmp_path / "v.csv").exists()


def test_committed_reference_verdict_is_rebuilt_from_the_committed_tables(tmp_path):
    reference = REPO / "results/reference/cpu"
    names = ("toy_table.csv", "digits_svm_table.csv", "fashion_mnist_svm_table.csv", "semisup_table.csv")
    tables = [reference / name for name in names]
    run_cli(
        "verdict",
        "--config",
        str(REPO / "config/reference-cpu.yaml"),
        "--tables",
        *map(str, tables),
        "--out",
        str(tmp_path / "verdict.csv"),
    )
    rebuilt, committed = pd.read_csv(tmp_path / "verdict.csv"), pd.read_csv(reference / "verdict.csv")
    pd.testing.assert_frame_equal(rebuilt, committed)
    measured = committed[committed["verdict"] != "not measured"]
    assert len(measured) == 12 and set(measured["verdict"]) == {"not comparable"}
