"""The semi-supervised paired comparison and learning curves: sums by hand, refusals, the figure."""

import numpy as np
import pandas as pd
import pytest

from ali_bench.semisup import figures as semisup_figures
from ali_bench.semisup import paired
from ali_bench.table_inputs import TableInputError


def test_pairs_set_each_semi_supervised_model_against_the_baseline_then_against_each_other():
    assert paired.pairs(["gan-fm", "supervised", "ali"]) == [
        ("ali", "supervised"),
        ("gan-fm", "supervised"),
        ("ali", "gan-fm"),
    ]
    assert paired.pairs(["ali", "supervised"]) == [("ali", "supervised")]
    assert paired.pairs(["ali"]) == []


def test_paired_difference_is_the_t_interval_and_test_of_the_per_seed_differences():
    a, b = np.array([10.0, 12.0, 9.0, 11.0, 13.0]), np.array([11.0, 12.5, 11.0, 11.5, 14.0])
    d = a - b  # -1, -0.5, -2, -0.5, -1: mean -1, sample std sqrt(0.375)
    got = paired.paired_difference(a, b)
    half = 2.7764451051977987 * np.sqrt(0.375) / np.sqrt(5)  # t(0.975, 4)
    assert got["difference_mean_pct"] == pytest.approx(-1.0)
    assert (got["ci_low_pct"], got["ci_high_pct"]) == pytest.approx((-1.0 - half, -1.0 + half))
    t = d.mean() / (d.std(ddof=1) / np.sqrt(5))
    assert t == pytest.approx(-3.6514837, rel=1e-6)
    x = abs(t) / np.sqrt(4 + t**2)  # Student's t with 4 degrees of freedom: F(|t|) = 1/2 + 3/4 x (1 - x^2/3)
    assert got["p_value"] == pytest.approx(2 * (0.5 - 0.75 * x * (1 - x**2 / 3)), rel=1e-9)  # two-sided
    # the unpaired spread over seeds hides what the pairs show: the intervals of the two means overlap
    assert a.std(ddof=1) > abs(d.mean())


def test_paired_difference_has_no_interval_or_test_below_two_pairs_or_without_spread():
    one = paired.paired_difference(np.array([10.0]), np.array([12.0]))
    assert one["difference_mean_pct"] == -2.0 and np.isnan(one["ci_low_pct"]) and np.isnan(one["p_value"])
    same = paired.paired_difference(np.array([10.0, 11.0]), np.array([11.0, 12.0]))
    assert same["ci_low_pct"] == same["ci_high_pct"] == -1.0 and np.isnan(same["p_value"])


def _run(seed, model, error, subset=None, labels=100):
    return {
        "dataset": "digits",
        "n_labels": labels,
        "seed": seed,
        "model": model,
        "error": error,
        "labelled_indices": subset if subset is not None else [seed, seed + 10],
    }


def test_paired_table_pairs_runs_by_seed_and_counts_the_seeds_a_model_wins():
    runs = [_run(s, "supervised", 20.0 + s) for s in range(3)]
    runs += [_run(s, "ali", 19.0 + s + (3 if s == 2 else 0)) for s in range(3)]  # -1, -1, +2
    runs += [_run(s, "ali", 30.0, labels=1000) for s in range(2)]  # no baseline at 1,000 labels: no pair
    table = paired.paired_table(runs, lambda run: run["error"])
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["model"], row["reference"], row["seeds"], row["model_lower_on"]) == ("ali", "supervised", 3, 2)
    assert row["difference_mean_pct"] == pytest.approx(0.0)
    assert row["model_error_mean_pct"] == pytest.approx(21.0) and row["reference_error_mean_pct"] == pytest.approx(21.0)
    # a seed only one model trained is left out of the pair
    table = paired.paired_table(runs + [_run(7, "ali", 5.0)], lambda run: run["error"])
    assert table.iloc[0]["seeds"] == 3 and table.iloc[0]["difference_mean_pct"] == pytest.approx(0.0)


def test_paired_table_refuses_runs_of_one_seed_on_different_labelled_subsets():
    runs = [_run(0, "supervised", 20.0, [1, 2]), _run(0, "ali", 19.0, [1, 3])]
    with pytest.raises(TableInputError, match="digits, 100 labels, seed 0 were trained on different labelled subsets"):
        paired.paired_table(runs, lambda run: run["error"])


def _log(steps, errors):
    return pd.DataFrame({"step": steps, "test_error": errors, "test_error_live": [e + 0.01 for e in errors]})


def test_learning_curves_draw_a_panel_per_dataset_and_labels_and_a_line_per_model_and_weights():
    results = [
        {"dataset": "digits", "n_labels": 100, "model": model, "seed": seed}
        for model in ("supervised", "ali")
        for seed in (0, 1)
    ] + [{"dataset": "fashion_mnist", "n_labels": 1000, "model": "gan-fm", "seed": 0}]
    logs = [_log([3, 6], [0.5, 0.2 + 0.01 * i]) for i in range(len(results))]
    points = semisup_figures.curve_frame(results, logs)
    assert len(points) == 10 and points["test_error_pct"].max() == pytest.approx(50.0)
    fig = semisup_figures.build_learning_curves(points)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["digits, 100 labels", "fashion_mnist, 1000 labels"]
    assert len(axes[0].lines) == 4 and len(axes[1].lines) == 2  # averaged and live, per model
    ali = next(line for line in axes[0].lines if line.get_label() == "ali (2 seeds)")
    assert list(ali.get_ydata()) == pytest.approx([50.0, 0.5 * (22.0 + 23.0)])  # the mean over seeds per step
