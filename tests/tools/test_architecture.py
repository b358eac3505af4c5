"""The package has the workflow's shape (README, Architecture): one package per stage rule file, and
data that flows one way. Read from the source's import statements, so it needs no import of torch."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "ali_bench"
STAGES = ("toy", "toy_inference", "images", "conditional", "svm", "semisup", "verdict")
SHARED_PACKAGES = ("nets", "data")
COLLECTOR = "ali_bench.cli"  # collects every stage's subcommands: the one shared module that imports stages
CONSUMES = {  # stage -> the stages whose output it reads
    "toy_inference": {"toy"},
    "svm": {"images"},
    "conditional": {"images"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every ali_bench module ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] == "ali_bench"}


DATA_STAGE = ("ali_bench.data.prepare", "ali_bench.data.cli")  # data.smk's step; the rest of data/ is shared


def stage_of(module: str) -> str | None:
    if module in DATA_STAGE:
        return "data"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def imports_by_module() -> dict[str, set[str]]:
    return {module_name(path): imported_modules(path) for path in sorted(PACKAGE.rglob("*.py"))}


def violations(imports: dict[str, set[str]]) -> list[str]:
    """Each import that breaks the one-way flow, as 'importer -> imported'."""
    found = []
    for importer, modules in imports.items():
        home = stage_of(importer)
        for module in modules:
            target = stage_of(module)
            if target is None or target == home or importer in (COLLECTOR, "ali_bench.__main__"):
                continue
            if target == "data" and home is not None:  # every stage may read the data stage's manifests
                continue
            if home is None or target not in CONSUMES.get(home, set()):
                found.append(f"{importer} -> {module}")
    return sorted(found)


def test_data_flows_one_way():
    """The shared ground (top-level modules, nets/, data/) imports no stage; a stage imports another
    only where it consumes that stage's output."""
    assert violations(imports_by_module()) == []


def test_the_import_check_catches_a_shared_module_or_a_stage_importing_a_stage():
    imports = imports_by_module()
    imports["ali_bench.figures"] = imports["ali_bench.figures"] | {"ali_bench.toy.metrics"}
    imports["ali_bench.semisup.train"] = imports["ali_bench.semisup.train"] | {"ali_bench.images.train"}
    imports["ali_bench.nets.toy"] = imports["ali_bench.nets.toy"] | {"ali_bench.toy.runs"}
    imports["ali_bench.command_line"] = imports["ali_bench.command_line"] | {"ali_bench.data.prepare"}
    assert violations(imports) == [
        "ali_bench.command_line -> ali_bench.data.prepare",
        "ali_bench.figures -> ali_bench.toy.metrics",
        "ali_bench.nets.toy -> ali_bench.toy.runs",
        "ali_bench.semisup.train -> ali_bench.images.train",
    ]


def test_every_stage_rule_file_has_its_package_with_a_cli_that_registers_its_commands():
    rule_files = {path.stem for path in (REPO / "workflow/rules").glob("*.smk")} - {"common"}
    assert rule_files == set(STAGES) | {"data"}
    for stage in rule_files:
        cli = PACKAGE / stage / "cli.py"
        functions = {node.name for node in ast.parse(cli.read_text()).body if isinstance(node, ast.FunctionDef)}
        assert "register" in functions, cli
    assert not set(SHARED_PACKAGES) & set(STAGES)


def test_every_folder_of_the_package_is_a_regular_package():
    """Without an __init__.py a folder is a namespace package, which setuptools' find_packages (and
    so a non-editable install) leaves out."""
    folders = {path.parent for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts}
    assert sorted(str(f.relative_to(REPO)) for f in folders if not (f / "__init__.py").exists()) == []


def test_a_module_over_300_lines_says_why_at_its_top():
    """A long file is one idea grown, or several: the first says so where a reader starts."""
    long_files = [
        str(path.relative_to(REPO))
        for path in sorted(PACKAGE.rglob("*.py"))
        if len(path.read_text().splitlines()) > 300
        and "Why one file over 300 lines" not in (ast.get_docstring(ast.parse(path.read_text())) or "")
    ]
    assert long_files == []
