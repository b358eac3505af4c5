"""environment.yml and pyproject.toml must install the same packages at the same pins."""

import re
import tomllib

import yaml

from conftest import REPO


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_and_pyproject_name_the_same_packages():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    from_pyproject = {_name(r): r.replace(" ", "") for r in project["dependencies"] + project["optional-dependencies"]["test"]}
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
