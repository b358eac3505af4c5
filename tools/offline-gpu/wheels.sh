#!/usr/bin/env bash
# Builds .whl/ (ignored by git): the wheels a GPU box without internet lacks, for Python 3.12 on
# x86_64 Linux, at the lock file's versions, for a box with Python 3.12 and its own CUDA torch,
# numpy, pandas, scikit-learn, matplotlib, ... but no snakemake and no jsonschema. Carry the folder
# to the box beside the checkout; tools/offline-gpu/device_run.sh installs it.
#   bash tools/offline-gpu/wheels.sh            # here, where pip reaches a package registry
set -euo pipefail
cd "$(dirname "$0")/../.."
lock=requirements/lock-cpu-py311.txt
pinned() {  # the lock file's "name==version" of each named package
  for name in "$@"; do
    grep -i -E "^${name}==" "$lock" || { echo "wheels.sh: '$name' is not pinned in $lock" >&2; exit 1; }
  done
}
# assignments, so that set -e stops here when a pin is missing (a failing $(...) inside an argument would not)
sdist_only=$(pinned connection_pool)
wanted=$(pinned snakemake snakemake-executor-plugin-slurm jsonschema)
rm -rf .whl
# connection_pool (a snakemake dependency) is published only as an sdist: build its wheel here
pip wheel -q --no-deps -w .whl "$sdist_only"
pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
  --find-links .whl -d .whl $wanted
# The box's own numpy and pandas stay: they were built beside its torch, and ours would shadow them
# (tools/offline-gpu/device_run.sh puts these wheels first on PYTHONPATH). Each is ~15 MB of the
# 64 MiB a device call may carry.
rm -f .whl/numpy-*.whl .whl/pandas-*.whl
echo "$(ls .whl | wc -l) wheels, $(du -sh .whl | cut -f1), in .whl/"
