"""environment.yml and pyproject.toml must install the same packages at the same pins."""

import re
import tomllib

import yaml

from conftest import REPO


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_and_pyproject_name_the_same_packages():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    from_pyproject = {
        _name(r): r.replace(" ", "") for r in project["dependencies"] + project["optional-dependencies"]["test"]
    }
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    from_env = {_name(r): r.replace(" ", "") for r in pip_section if not r.startswith("-")}
    assert from_env == from_pyproject


def test_torch_is_pinned():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "torch==2.14.1" in project["dependencies"]
    assert "torchvision==0.29.1" in project["dependencies"]


def test_the_gpu_box_list_is_pyproject_without_torch():
    """A CUDA machine keeps its own torch: requirements/gpu-box.txt installs everything else."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    expected = {r.replace(" ", "") for r in project["dependencies"] if _name(r) not in ("torch", "torchvision")}
    lines = (REPO / "requirements/gpu-box.txt").read_text().splitlines()
    listed = {line.replace(" ", "") for line in lines if line.strip() and not line.startswith("#")}
    assert listed == expected


def test_the_lock_file_pins_every_dependency_exactly():
    """requirements/lock-cpu-py311.txt: the exact versions behind results/reference/cpu/."""
    lines = [
        line
        for line in (REPO / "requirements/lock-cpu-py311.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pins = dict(line.split("==", 1) for line in lines)
    assert all("==" in line for line in lines) and len(pins) == len(lines)
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for requirement in declared["dependencies"] + declared["optional-dependencies"]["test"]:
        assert _name(requirement).lower() in {name.lower() for name in pins}, requirement
    assert pins["snakemake-executor-plugin-slurm"].startswith("2.")  # the major version the profile documents
