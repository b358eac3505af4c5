#!/usr/bin/env bash
# Take the local cluster's accounting away and give it back: `accounting.sh stop` ends the slurmdbd
# that tools/slurm-local/start.sh started (as an outage of the accounting database does: `sacct`
# fails, jobs keep running), `accounting.sh start` starts it again and records its new pid for
# stop.sh. For tests/workflow/test_slurm_cluster.py's accounting outage. Both wait, bounded, until
# the change shows (sacctmgr answers, or no longer does) and fail in one line otherwise.
set -uo pipefail
STATE=${SLURM_LOCAL_DIR:-/tmp/ali-bench-slurm}
me="tools/slurm-local/accounting.sh"
export SLURM_CONF="$STATE/slurm.conf"
fail() { echo "$me: $1" >&2; exit 1; }
[ -s "$STATE/pids" ] || fail "no cluster recorded in $STATE/pids: start one with tools/slurm-local/start.sh"
pid=$(awk '$1 == "slurmdbd" { print $2 }' "$STATE/pids")
running() { [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = slurmdbd ]; }
answers() { timeout 5 sacctmgr -n show cluster >/dev/null 2>&1; }
case "${1:-}" in
stop)
    running || fail "the recorded slurmdbd ($pid) is not running"
    kill -TERM "$pid"
    for _ in $(seq 40); do running || break; sleep 0.5; done
    running && fail "slurmdbd ($pid) still runs 20 s after SIGTERM"
    answers && fail "slurmdbd ($pid) ended but sacctmgr still answers: another slurmdbd serves this cluster"
    exit 0
    ;;
start)
    running && fail "slurmdbd ($pid) already runs"
    setsid slurmdbd -D >> "$STATE/log/slurmdbd.out" 2>&1 < /dev/null &
    pid=$!
    sed -i "s/^slurmdbd .*/slurmdbd $pid/" "$STATE/pids"
    for _ in $(seq 60); do answers && exit 0; sleep 0.5; done
    fail "slurmdbd ($pid) started but sacctmgr got no answer within 30 s (log: $STATE/log/slurmdbd.log)"
    ;;
*)
    fail "usage: $me stop|start"
    ;;
esac
