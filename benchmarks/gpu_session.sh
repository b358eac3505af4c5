#!/usr/bin/env bash
# Every GPU measurement RESULTS.md still lacks, in one go, for a session that has a GPU for a short
# while (each benchmark runs its paper-scale step for ~100-200 steps and projects the full run).
#   bash benchmarks/gpu_session.sh [OUTDIR]       # default: benchmarks/gpu-<date>
# Each benchmark's output goes to OUTDIR/<name>.txt; copy the numbers into RESULTS.md with the
# device and date. A failing benchmark is reported and the others still run.
set -u -o pipefail
out=${1:-benchmarks/gpu-$(date +%F)}
mkdir -p "$out"
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device visible'; print(torch.cuda.get_device_name())" \
  | tee "$out/device.txt" || exit 1
status=0
run() {  # name, command...
  local name=$1; shift
  echo "== $name: $*"
  if ! "$@" 2>&1 | tee "$out/$name.txt"; then echo "!! $name failed"; status=1; fi
}
# the graphed steps against the eager ones on this GPU (the CPU suite skips these)
run gpu_parity_tests          python -m pytest -q -p no:cacheprovider -p no:xdist -o addopts=-ra tests/test_image_training.py::test_graphed_and_eager_steps_agree_on_gpu tests/test_semisup.py::test_graphed_and_eager_k_plus_1_steps_agree_on_gpu
run toy_throughput            python benchmarks/toy_throughput.py
run toy_inference_throughput  python benchmarks/toy_inference_throughput.py
run image_throughput          python benchmarks/image_throughput.py
run image_throughput_bf16     python benchmarks/image_throughput.py --bf16
run semisup_throughput        python benchmarks/semisup_throughput.py
exit $status
