"""Which of the carried wheels (tools/offline-gpu/wheels.sh) a box still needs: prints their paths.

Why: the kit installs the wheels into a folder that goes first on PYTHONPATH, so a wheel of a
package the box already has (python-dateutil, typing-extensions, packaging, pyyaml, ...) would
shadow the copy the box's own torch, pandas and matplotlib were installed and tested with. So, as
pip would: a wheel is needed when its project is missing here, or when a needed wheel requires a
version of it that the installed one is not.

    python3 tools/offline-gpu/wheels_needed.py .whl        # run by tools/offline-gpu/device_run.sh
"""

from __future__ import annotations

import sys
import zipfile
from importlib import metadata
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name, parse_wheel_filename
    from packaging.version import InvalidVersion
except ImportError:  # a Python with pip alone: pip carries its own copy
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename
    from pip._vendor.packaging.version import InvalidVersion


def wheel_requirements(path: Path) -> list[Requirement]:
    """The requirements a wheel declares for this interpreter (markers evaluated, extras left out)."""
    with zipfile.ZipFile(path) as wheel:
        name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        lines = wheel.read(name).decode("utf-8").splitlines()
    requirements = [Requirement(line.split(":", 1)[1].strip()) for line in lines if line.startswith("Requires-Dist:")]
    return [r for r in requirements if r.marker is None or r.marker.evaluate({"extra": ""})]


def installed_versions() -> dict[str, str]:
    """Project -> version of the copy Python imports: the first on sys.path, where one is there twice."""
    versions: dict[str, str] = {}
    for distribution in metadata.distributions():
        if distribution.metadata["Name"]:
            versions.setdefault(canonicalize_name(distribution.metadata["Name"]), distribution.version)
    return versions


def _met(requirement: Requirement, installed: dict[str, str]) -> bool:
    """Whether this Python's copy of the project meets ``requirement``; a missing one does not, nor
    a version that is not PEP 440 (a distribution's own patch suffix): then the carried wheel is
    installed."""
    version = installed.get(canonicalize_name(requirement.name))
    try:
        return version is not None and requirement.specifier.contains(version, prereleases=True)
    except InvalidVersion:
        return False


def needed_wheels(folder: Path, installed: dict[str, str]) -> list[Path]:
    wheels = {canonicalize_name(parse_wheel_filename(p.name)[0]): p for p in sorted(folder.glob("*.whl"))}
    requirements = {name: wheel_requirements(path) for name, path in wheels.items()}
    needed = {name for name in wheels if name not in installed}
    while True:  # a needed wheel may refuse an installed version: then that project's wheel is needed too
        carried_unmet = {
            canonicalize_name(r.name) for name in needed for r in requirements[name] if not _met(r, installed)
        } & wheels.keys()
        if carried_unmet <= needed:
            break
        needed |= carried_unmet
    for name in sorted(needed):
        for r in requirements[name]:
            project = canonicalize_name(r.name)
            if project not in wheels and not _met(r, installed):
                print(
                    f"wheels_needed.py: {name} requires {r}, which neither this Python "
                    f"({installed.get(project, 'not installed')}) nor {folder}/ provides",
                    file=sys.stderr,
                )
    return [wheels[name] for name in sorted(needed)]


def main() -> None:
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        sys.exit("usage: wheels_needed.py WHEEL_FOLDER")
    for path in needed_wheels(Path(sys.argv[1]), installed_versions()):
        print(path)


if __name__ == "__main__":
    main()
