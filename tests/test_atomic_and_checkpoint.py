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


@pytest.mark.parametrize("cut", [0, 10, 200])
def test_truncated_checkpoint_is_a_one_line_error_naming_the_file(tmp_path, cut):
    path = tmp_path / "c.pt"
    checkpoint.save(path, {"format": "x/1", "w": torch.randn(100)})
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(CheckpointError) as caught:
        checkpoint.load(path, "x/1")
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
