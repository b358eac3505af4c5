"""Small things users reach for: --version, the effective config, dataset choices, aligned Markdown
tables, image grids whose pixels stay square."""

import tomllib

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from ali_bench.cli import main
from ali_bench.config import as_dict, load_config

from conftest import REPO


def test_version_is_the_packages(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out.strip() == f"ali-bench {version}"


def test_show_config_prints_the_config_with_every_default_filled(capsys):
    assert main(["show-config", "--config", str(REPO / "config/quick.yaml")]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown == as_dict(load_config(REPO / "config/quick.yaml"))
    assert shown["images"]["digits"]["width"] == 0.25 and shown["svm"]["validation_size"] > 0  # set, and defaulted


@pytest.mark.parametrize(
    "command", [["svm", "--feature-set", "paper"], ["features", "--split", "test", "--feature-set", "paper"]]
)
def test_an_unknown_dataset_is_refused_by_every_subcommand_that_takes_one(command, capsys):
    with pytest.raises(SystemExit) as caught:
        main([command[0], "--dataset", "mnist", *command[1:]])
    assert caught.value.code == 2 and "invalid choice: 'mnist'" in capsys.readouterr().err


def test_markdown_tables_have_aligned_columns(tmp_path):
    from ali_bench.tables import write_markdown

    frame = pd.DataFrame({"model": ["ALI", "supervised-only"], "error_pct": [19.0123, np.nan], "runs": [10, 3]})
    write_markdown(frame, tmp_path / "t.md", "A table", ["a note"])
    rows = [line for line in (tmp_path / "t.md").read_text().splitlines() if line.startswith("|")]
    assert len(rows) == 4 and len({len(row) for row in rows}) == 1  # every row as wide: columns line up
    assert "19.01" in rows[2] and "nan" not in rows[3]


@pytest.mark.parametrize("side, scale", [(32, 3), (64, 2)])
def test_image_grids_draw_each_pixel_as_a_square_block(tmp_path, side, scale):
    from ali_bench.figures import GRID_TITLE_PIXELS, image_grid

    images = torch.rand(6, 3, side, side, generator=torch.Generator().manual_seed(0))
    image_grid(images, 3, tmp_path / "g.png", "title")
    png = np.asarray(Image.open(tmp_path / "g.png").convert("RGB"))
    padded = side + 1  # make_grid's padding 1
    assert png.shape[:2] == ((2 * padded + 1) * scale + GRID_TITLE_PIXELS, (3 * padded + 1) * scale)
    body = png[GRID_TITLE_PIXELS:]
    first = body[scale : scale * (side + 1), scale : scale * (side + 1)]  # image 0, inside the padding
    blocks = first.reshape(side, scale, side, scale, 3)
    assert (blocks == blocks[:, :1, :, :1]).all()  # each block is one colour
    expected = (images[0].permute(1, 2, 0).numpy() * 255).round()
    assert np.abs(blocks[:, 0, :, 0].astype(float) - expected).max() <= 1


def test_provenance_names_the_host_the_slurm_job_and_the_cuda_stack(monkeypatch):
    import socket

    from ali_bench import provenance

    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    record = provenance.build(config={}, config_hash="x", seeds=[0], device="cpu", wall_time_s=1.0)["machine"]
    assert record["host"] == socket.gethostname() and record["slurm_job_id"] == "4242"
    assert record["cuda"] == torch.version.cuda  # None on a CPU build, the toolkit version on a CUDA one
    assert ("gpu" in record) == torch.cuda.is_available()


def test_data_location_precedence_option_then_environment_then_config(monkeypatch):
    """The workflow gives training jobs the data's location in the environment (not in their params,
    so that moving the data never retrains); an explicit option still wins."""
    import argparse

    from ali_bench.command_line import data_location
    from ali_bench.config import ConfigError

    cfg = load_config({"images": {"data_root": "from-config", "download": False}})
    none = argparse.Namespace(data_root=None, download=None)
    for name in ("ALI_BENCH_DATA_ROOT", "ALI_BENCH_DOWNLOAD", "ALI_BENCH_PREPARED_ONLY", "ALI_BENCH_VERIFY_CHECKSUMS"):
        monkeypatch.delenv(name, raising=False)
    assert data_location(cfg, none) == {
        "root": "from-config",
        "download": False,
        "prepared_only": False,
        "verify": True,
    }
    monkeypatch.setenv("ALI_BENCH_DATA_ROOT", "/shared/data")
    monkeypatch.setenv("ALI_BENCH_DOWNLOAD", "True")  # as the workflow writes a YAML boolean
    assert data_location(cfg, none) == {
        "root": "/shared/data",
        "download": True,
        "prepared_only": False,
        "verify": True,
    }
    assert data_location(cfg, argparse.Namespace(data_root="mine", download=False)) == {
        "root": "mine",
        "download": False,
        "prepared_only": False,
        "verify": True,
    }
    monkeypatch.setenv("ALI_BENCH_VERIFY_CHECKSUMS", "false")  # images.verify_checksums, as the workflow passes it
    assert data_location(cfg, none)["verify"] is False
    monkeypatch.setenv("ALI_BENCH_PREPARED_ONLY", "true")  # the workflow's jobs: read only what prepare-data made
    assert data_location(cfg, none)["prepared_only"] is True
    monkeypatch.setenv("ALI_BENCH_DOWNLOAD", "maybe")
    with pytest.raises(ConfigError, match="ALI_BENCH_DOWNLOAD"):
        data_location(cfg, none)
