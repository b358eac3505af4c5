import pytest
import torch

from ali_bench import checkpoint
from ali_bench.atomic import atomic_path, write_text
from ali_bench.checkpoint import CheckpointError


def test_interrupted_write_leaves_the_old_file_and_no_debris(tmp_path):
    target = tmp_path / "table.csv"
    write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half a tab")
            raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_checkpoint_round_trip_and_format_check(tmp_path):
    path = tmp_path / "c.pt"
    checkpoint.save(path, {"format": "x/1", "w": torch.ones(2)})
    assert torch.equal(checkpoint.load(path, "x/1")["w"], torch.ones(2))
    with pytest.raises(CheckpointError, match="expected 'y/1'"):
        checkpoint.load(path, "y/1")


def test_a_checkpoint_overwritten_in_place_is_caught_although_torch_reads_it(tmp_path):
    """64 bytes overwritten in the middle of a tensor, size unchanged: torch loads the file without
    complaint (a toy run once resumed from one into NaN weights); the recorded digest refuses it."""
    path = tmp_path / "c.pt"
    weights = torch.arange(4096, dtype=torch.float32) + 0.5
    checkpoint.save(path, {"format": "x/1", "w": weights, "epoch": 3})
    data = bytearray(path.read_bytes())
    start = data.index(weights.numpy().tobytes()) + 2048
    data[start : start + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    assert not torch.equal(torch.load(path, weights_only=True)["w"], weights)  # torch sees nothing wrong
    with pytest.raises(CheckpointError, match=r"c\.pt' changed on disk after it was written.*retrain") as caught:
        checkpoint.load(path, "x/1", fix="retrain")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "edit",
    [
        lambda payload: payload["w"].__setitem__(7, float("nan")),  # one weight set to NaN
        lambda payload: payload.__setitem__("epoch", 4),  # the count of epochs done
    ],
)
def test_a_checkpoint_whose_content_was_edited_is_refused(tmp_path, edit):
    path = tmp_path / "c.pt"
    checkpoint.save(path, {"format": "x/1", "w": torch.ones(10), "epoch": 3})
    payload = torch.load(path, weights_only=True)
    edit(payload)
    torch.save(payload, path)  # the digest recorded at save time travels along, unchanged
    with pytest.raises(CheckpointError, match="changed on disk"):
        checkpoint.load(path, "x/1")


def test_a_checkpoint_written_before_digests_is_read_as_it_is(tmp_path):
    torch.save({"format": "x/1", "w": torch.ones(2)}, tmp_path / "old.pt")
    assert torch.equal(checkpoint.load(tmp_path / "old.pt", "x/1")["w"], torch.ones(2))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_weight_is_caught_on_load_without_a_digest_too(tmp_path, bad):
    """A file from before digests (nothing to compare) with one weight NaN or infinite: refused,
    naming where it sits, not resumed into NaN training."""
    state = {"net": {"layer.weight": torch.ones(3, 3), "layer.bias": torch.ones(3)}, "step": torch.tensor(5)}
    state["net"]["layer.bias"][1] = bad
    torch.save({"format": "x/1", "state": state, "epoch": 3}, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match=r"old\.pt' holds a non-finite value in state/net/layer\.bias; retrain"):
        checkpoint.load(tmp_path / "old.pt", "x/1", fix="retrain")


def test_the_digest_covers_dtype_shape_order_and_every_kind_of_value():
    base = {"format": "x/1", "w": torch.zeros(2, 3), "n": 1, "names": ["a", "b"]}
    digest = checkpoint.content_digest(base)
    assert checkpoint.content_digest({**base}) == digest
    for changed in (
        {**base, "w": torch.zeros(3, 2)},
        {**base, "w": torch.zeros(2, 3, dtype=torch.float64)},
        {**base, "n": 1.0},
        {**base, "names": ["b", "a"]},
        {"names": ["a", "b"], **{k: v for k, v in base.items() if k != "names"}},
    ):
        assert checkpoint.content_digest(changed) != digest


@pytest.mark.parametrize("cut", [0, 10, 200])
def test_truncated_checkpoint_is_a_one_line_error_naming_the_file(tmp_path, cut):
    path = tmp_path / "c.pt"
    checkpoint.save(path, {"format": "x/1", "w": torch.randn(100)})
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(CheckpointError) as caught:
        checkpoint.load(path, "x/1")
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_written_files_get_the_umasks_permissions_not_mkstemps_0600(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        write_text(tmp_path / "table.csv", "x\n")
        checkpoint.save(tmp_path / "models.pt", {"format": "x/1"})
    finally:
        os.umask(old)
    assert (tmp_path / "table.csv").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "models.pt").stat().st_mode & 0o777 == 0o644


def test_stale_temporaries_of_a_killed_write_go_with_the_next_successful_write(tmp_path):
    stale = tmp_path / ".table.abc123.tmp.csv"  # what a kill during a write leaves
    stale.write_text("half")
    other = tmp_path / ".other.abc123.tmp.csv"  # another output's temporary: not ours to remove
    other.write_text("half")
    write_text(tmp_path / "table.csv", "x\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.abc123.tmp.csv", "table.csv"]


def test_a_long_reason_is_shortened_at_a_word_boundary(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    path.write_bytes(b"x")
    words = " ".join(f"word{i:03d}" for i in range(60))

    def failing_load(*args, **kwargs):
        raise RuntimeError(words)

    monkeypatch.setattr(torch, "load", failing_load)
    with pytest.raises(CheckpointError) as caught:
        checkpoint.load(path, "x/1")
    reason = str(caught.value).split("(", 1)[1].split("); ", 1)[0]  # the fix after it may hold parentheses
    assert reason.endswith(" ...") and all(w in words.split() for w in reason.removesuffix(" ...").split())


def test_a_loaded_optimiser_keeps_its_own_settings_and_learning_rate_tensor():
    """A checkpoint an eager run wrote (capturable off, a float learning rate) resumed by a graphed
    run: torch's own load would switch capture off and swap the learning-rate tensor the captured
    step reads for a copy."""
    from ali_bench.checkpoint import load_optimizer_state

    weights = torch.nn.Parameter(torch.randn(3))
    eager = torch.optim.Adam([weights], lr=1e-3, capturable=False)
    weights.grad = torch.ones(3)
    eager.step()
    saved = eager.state_dict()
    lr = torch.tensor(2e-4)
    graphed = torch.optim.Adam([weights], lr=lr, capturable=True)
    load_optimizer_state(graphed, saved)
    group = graphed.param_groups[0]
    assert group["capturable"] is True and group["lr"] is lr
    assert torch.equal(graphed.state[weights]["exp_avg"], eager.state[weights]["exp_avg"])
    plain = torch.optim.Adam([weights], lr=torch.tensor(2e-4), capturable=True)
    plain.load_state_dict(saved)
    assert plain.param_groups[0]["capturable"] is False  # what the helper is for


def test_provenance_dirty_flag_counts_code_not_regenerated_results(tmp_path):
    import subprocess

    from ali_bench.provenance import git_state

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    (tmp_path / "results").mkdir()
    (tmp_path / "results/table.csv").write_text("a\n1\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c")
    (tmp_path / "results/table.csv").write_text("a\n2\n")  # a committed reference result, regenerated
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_state(tmp_path)["dirty"] is True
