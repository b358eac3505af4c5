#!/usr/bin/env bash
# Stop the cluster tools/slurm-local/start.sh started: exactly the processes recorded in its `pids`,
# in reverse start order (SIGTERM, then SIGKILL after 10 s), each only if that pid is still the
# program it recorded (a pid reused by another process is left alone), and slurmd's /run/slurm/conf
# link when it points into the folder. Leaves the folder's logs.
set -uo pipefail
STATE=${SLURM_LOCAL_DIR:-/tmp/ali-bench-slurm}
me="tools/slurm-local/stop.sh"
[ -s "$STATE/pids" ] || { echo "$me: no cluster recorded in $STATE/pids: nothing to stop" >&2; exit 0; }
ours() { [ "$(cat "/proc/$2/comm" 2>/dev/null)" = "$1" ]; }
tac "$STATE/pids" | while read -r name pid; do
    ours "$name" "$pid" || continue
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 20); do ours "$name" "$pid" || break; sleep 0.5; done
    ours "$name" "$pid" && kill -KILL "$pid" 2>/dev/null
    echo "$me: stopped $name ($pid)" >&2
done
# slurmd's link to its configless cache, when it points into this cluster's folder
case "$(readlink /run/slurm/conf 2>/dev/null)" in "$STATE"/*) rm -f /run/slurm/conf ;; esac
rm -f "$STATE/pids" "$STATE/env"
