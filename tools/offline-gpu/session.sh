#!/usr/bin/env bash
# Every GPU measurement RESULTS.md still lacks, in one go, for a GPU that is available for a short
# while (each benchmark runs its paper-scale step for ~100-200 steps and projects the full run).
#   bash tools/offline-gpu/session.sh [OUTDIR]       # default: benchmarks/gpu-<date>
#   bash tools/offline-gpu/session.sh --check        # any machine: every command below starts (imports,
#                                                 # --help; the tests are collected), nothing is timed
# Each benchmark's output goes to OUTDIR/<name>.txt; copy the numbers into RESULTS.md with the
# device and date. A failing benchmark is reported and the others still run.
# On a box without snakemake run it through tools/offline-gpu/device_run.sh, which installs what the box lacks
# (snakemake, jsonschema: the tests' conftest imports the config, which needs jsonschema).
set -u -o pipefail
check=false
[ "${1:-}" = "--check" ] && { check=true; shift; }
out=${1:-benchmarks/gpu-$(date +%F)}
# The benchmarks import ali_bench from this checkout: a box without `pip install -e .` (such as a
# GPU machine with its own torch) has it nowhere else, and `python benchmarks/x.py` puts only benchmarks/ on sys.path.
export PYTHONPATH="$(cd "$(dirname "$0")/../.." && pwd)${PYTHONPATH:+:$PYTHONPATH}"
if ! $check; then
  mkdir -p "$out"
  python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device visible'; print(torch.cuda.get_device_name())" \
    | tee "$out/device.txt" || exit 1
fi
status=0
run() {  # name, command...
  local name=$1; shift
  if $check; then
    # pytest --help exits 0 even when conftest cannot import: collect the tests instead. (Match the
    # joined command: ${*#pattern} would strip the pattern from each word on its own, never matching.)
    local probe=(--help) joined="$*"; [[ $joined == "python -m pytest "* ]] && probe=(--collect-only -q)
    if "$@" "${probe[@]}" > /dev/null 2>&1; then echo "ok $name"; else echo "!! $name does not start: $* ${probe[*]}"; status=1; fi
    return
  fi
  echo "== $name: $*"
  if ! "$@" 2>&1 | tee "$out/$name.txt"; then echo "!! $name failed"; status=1; fi
}

# the graphed steps against the eager ones on this GPU (the CPU suite skips these)
run gpu_parity_tests          python -m pytest -q -p no:cacheprovider -p no:xdist -o addopts=-ra tests/images/test_image_training.py::test_graphed_and_eager_steps_agree_on_gpu tests/semisup/test_semisup.py::test_graphed_and_eager_k_plus_1_steps_agree_on_gpu
run toy_throughput            python benchmarks/toy_throughput.py
run toy_inference_throughput  python benchmarks/toy_inference_throughput.py
run image_throughput          python benchmarks/image_throughput.py
run image_throughput_bf16     python benchmarks/image_throughput.py --bf16
run semisup_throughput        python benchmarks/semisup_throughput.py
exit $status
