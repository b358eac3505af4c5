#!/usr/bin/env bash
# The GPU benchmarks and the reference GPU slices, in few commands of at most 10 minutes each, on a
# box that has Python 3.12 and its own CUDA torch but no snakemake and no internet (README.md here).
#
#   bash tools/offline-gpu/device_run.sh STEP...      # in the repository root, on the GPU box
#
# Steps run in order:
#   bench            tools/offline-gpu/session.sh (graphed-vs-eager parity tests, every throughput
#                    benchmark), in the foreground, before anything else loads the card
#   start:S[,S...]   start the reference run (config/reference-gpu.yaml) for slices S under setsid,
#                    so it outlives this call; slices: toy, toy_inference, digits, all
#   wait:SECONDS     wait until the started run ends, or SECONDS pass (leave time to pack)
#   stop             end the started run (SIGTERM: Snakemake marks the jobs incomplete; each
#                    training resumes from its last checkpoint when started again)
# Every call ends by packing into $OUT (at most 8 files come back; each <= 16 MiB):
#   status.txt          running / finished / failed, Snakemake's exit code, wall time, the run's
#                       commit, the device
#   snakemake.log       the run's Snakemake log
#   reference-gpu.tar.gz  results/reference/gpu/ without model weights and arrays, and the bench
#                         outputs as benchmarks/gpu-<date>/ (unpack in the repository root: tar xzf)
#
# State lives in $ALI_BENCH_GPU_WORK (default /tmp/ali-bench-gpu), outside the copied working tree,
# so it survives the next call while the machine stays warm (30 s after a call on the H200: make
# the next call at once). Carry .whl/ (tools/offline-gpu/wheels.sh) so that snakemake installs;
# ALI_BENCH_GPU_WHEELS names another folder of wheels.
# SNAKEMAKE_ARGS adds options at the end (e.g. --dry-run, or --config cuda_graphs=False); GPU_JOBS
# (default 2) is how many trainings share the card (the profile's gpu token). Processes on one card
# take turns on it: 2 hides short jobs' time off the card, 1 finishes long ones (the toy sets) one by one.
# ALI_BENCH_GIT_COMMIT names the commit when the copy has no .git (provenance records it).
# CALL_SECONDS (default 540) is when this call must be packing: bench and wait stop short of it, so
# a command under a 600 s limit always brings its files back.
set -u -o pipefail
call_end=$(( $(date +%s) + ${CALL_SECONDS:-540} ))
left() { echo $(( call_end - $(date +%s) )); }
cd "$(dirname "$0")/../.."
repo=$PWD
work=${ALI_BENCH_GPU_WORK:-/tmp/ali-bench-gpu}
out=${OUT:-$work/out}
results=results/reference/gpu                  # config/reference-gpu.yaml's results_dir
mkdir -p "$work/run" "$work/bin" "$out"
export PYTHONUNBUFFERED=1

# --- set-up, once per machine: the carried wheels on PYTHONPATH, `python` on PATH
wheels=${ALI_BENCH_GPU_WHEELS:-.whl}
# Only the wheels the box lacks (or has at a version they refuse): a copy of one it has would shadow
# the one its torch, pandas and matplotlib came with (tools/offline-gpu/wheels_needed.py).
if [ -d "$wheels" ] && [ ! -e "$work/site/.installed" ]; then
  needed=$(python3 tools/offline-gpu/wheels_needed.py "$wheels") \
    || { echo "device_run.sh: could not read the wheels in $wheels/" >&2; exit 1; }
  mkdir -p "$work/site"
  if [ -n "$needed" ]; then
    # shellcheck disable=SC2086  # one path per line, none with spaces (wheel file names)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$work/site" $needed \
      || { echo "device_run.sh: installing $wheels/ into $(python3 -V) failed (tools/offline-gpu/wheels.sh builds them for 3.12)" >&2; exit 1; }
  fi
  echo "== installed $(echo "$needed" | grep -c . ) of $(ls "$wheels"/*.whl | wc -l) wheels (the others are on this Python already)"
  touch "$work/site/.installed"
fi
[ -d "$work/site" ] && export PYTHONPATH="$work/site${PYTHONPATH:+:$PYTHONPATH}" PATH="$work/site/bin:$PATH"
# The rules call `python`. A wrapper, not a symlink: a symlink to a venv's python3 (the box's is
# /opt/torch/.venv/bin/python3) starts the base interpreter, without the venv's torch.
if ! command -v python >/dev/null; then
  printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v python3)" > "$work/bin/python" && chmod +x "$work/bin/python"
fi
export PATH="$work/bin:$PATH"
python -m snakemake --version >/dev/null 2>&1 \
  || { echo "device_run.sh: snakemake does not import; carry .whl/ (bash tools/offline-gpu/wheels.sh)" >&2; exit 1; }

slice_targets() {  # slice name -> Snakemake targets under $results
  case $1 in
    toy) echo "$results/toy_table.csv $results/figures/toy_samples.png" ;;
    toy_inference) echo "$results/toy_inference_table.csv $results/figures/toy_inference.png" ;;
    digits) echo "$results/figures/digits_samples.png $results/images/digits/reconstruction_metrics.json" \
                 "$results/digits_svm_table.csv $results/semisup_table.csv $results/figures/semisup_curves.png $results/figures/digits_conditional.png" ;;
    all) echo "" ;;  # rule all
    *) echo "device_run.sh: unknown slice '$1' (expected toy, toy_inference, digits or all)" >&2; return 1 ;;
  esac
}

# the commit provenance records name here (git first, then ALI_BENCH_GIT_COMMIT)
this_commit() { python -c 'from ali_bench.provenance import git_state; print(git_state()["commit"])'; }

running() { [ -f "$work/pid" ] && kill -0 "$(cat "$work/pid")" 2>/dev/null; }

start() {  # comma-separated slices
  if running; then echo "== a run is going already (pid $(cat "$work/pid")); not starting another"; return; fi
  local targets="" slice
  for slice in ${1//,/ }; do targets+=" $(slice_targets "$slice")" || return 1; done
  rm -f "$work/rc" "$work/end"
  date +%s > "$work/start"
  echo "$1" > "$work/slices"
  # kept, so that a later call's status names the run's commit, told ALI_BENCH_GIT_COMMIT or not
  this_commit > "$work/commit" 2>/dev/null || rm -f "$work/commit"
  echo "== start: snakemake $targets"
  # setsid: the run outlives this call; it writes its exit code when it ends. The targets come first:
  # --configfile, --resources and --config each take a list, which would swallow targets after them.
  setsid bash -c "cd '$work/run' && python -m snakemake $targets --snakefile '$repo/Snakefile' --configfile '$repo/config/reference-gpu.yaml' \
      --cores 16 --resources gpu=${GPU_JOBS:-2} ${SNAKEMAKE_ARGS:-} > '$work/snakemake.log' 2>&1; \
      echo \$? > '$work/rc'; date +%s > '$work/end'" < /dev/null > /dev/null 2>&1 &
  echo $! > "$work/pid"
}

wait_for() {  # seconds, cut to what this call has left
  local deadline=$(( $(date +%s) + $1 ))
  [ "$deadline" -gt "$call_end" ] && deadline=$call_end
  while running && [ "$(date +%s)" -lt "$deadline" ]; do sleep 2; done
  running && echo "== still running after $1 s" || echo "== the run ended"
}

stop() {
  running && kill -TERM -- "-$(cat "$work/pid")" 2>/dev/null
  sleep 5; echo "== stopped"
}

pack() {
  local state=none elapsed=""
  if [ -f "$work/start" ]; then
    if [ -f "$work/rc" ]; then
      [ "$(cat "$work/rc")" = 0 ] && state=finished || state="failed (exit $(cat "$work/rc"))"
      elapsed=$(( $(cat "$work/end") - $(cat "$work/start") ))
    elif running; then state=running; elapsed=$(( $(date +%s) - $(cat "$work/start") ))
    else state="ended without an exit code (killed?)"; fi
  fi
  {
    echo "run: $state"
    echo "slices: $(cat "$work/slices" 2>/dev/null)"
    echo "wall seconds: $elapsed"
    # the started run's commit; before any start, this copy's
    echo "commit: $(cat "$work/commit" 2>/dev/null || this_commit 2>/dev/null || echo unknown)"
    echo "device: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo none)"
    python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" 2>/dev/null
    echo "packed: $(date -u +%FT%TZ)"
  } > "$out/status.txt"
  [ -f "$work/snakemake.log" ] && cp "$work/snakemake.log" "$out/snakemake.log"
  local parts=()
  [ -d "$work/run/$results" ] && parts+=(-C "$work/run" "$results")
  [ -d "$work/bench" ] && parts+=(-C "$work" bench)
  if [ ${#parts[@]} -gt 0 ]; then
    # bench/ lands where RESULTS.md keeps each GPU run's benchmark outputs
    tar czf "$out/reference-gpu.tar.gz" --exclude='*.pt' --exclude='*.npy' --exclude='*.npz' \
      --transform "s,^bench,benchmarks/gpu-$(date -u +%F)," "${parts[@]}"
  fi
  cat "$out/status.txt"
}

status=0
for step in "$@"; do
  case $step in
    bench)
      if [ "$(left)" -lt 60 ]; then echo "!! bench skipped: under a minute left in this call"; status=1
      else timeout "$(left)" bash tools/offline-gpu/session.sh "$work/bench" || { echo "!! bench failed or ran out of time"; status=1; }
      fi ;;
    start:*) start "${step#start:}" || status=1 ;;
    wait:*) wait_for "${step#wait:}" ;;
    stop) stop ;;
    *) echo "device_run.sh: unknown step '$step' (bench, start:SLICES, wait:SECONDS, stop)" >&2; status=1 ;;
  esac
done
pack
exit $status
