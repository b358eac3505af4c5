#!/usr/bin/env bash
# A one-node SLURM with accounting on this machine, for tests/workflow/test_slurm_cluster.py and for trying
# profiles/slurm without a cluster (docs/cluster.md, "A cluster on your machine").
#
#   sudo tools/slurm-local/start.sh          # prints the line to paste: export SLURM_CONF=...
#   sudo tools/slurm-local/stop.sh
#
# Needs root and Debian's packages: apt-get install slurm-wlm slurmdbd munge mariadb-server.
# Everything it writes is under $SLURM_LOCAL_DIR (default /tmp/ali-bench-slurm): a munge key, a
# MariaDB datadir on 127.0.0.1 at a private port, slurm.conf and slurmdbd.conf, the daemons' logs and
# state, and `pids`, the ids of exactly the processes it started (stop.sh ends those and nothing
# else). Outside it only munged's socket (the default one, where SLURM's clients look; a munged
# already answering there is used instead) and slurmd's /run/slurm/conf link; nothing under /etc.
# The node gets this machine's CPUs and 90 % of its memory; no cgroups are needed (proctrack/linuxproc,
# task/none), so it runs in containers too. slurmd runs configless (it fetches slurm.conf from
# slurmctld), so that a job's own srun finds the configuration: the Snakemake plugin drops SLURM_CONF
# from the job step's environment. It waits until `sinfo` shows the node idle and `srun hostname`
# answers, and fails in one line after 60 s otherwise.
set -euo pipefail
STATE=${SLURM_LOCAL_DIR:-/tmp/ali-bench-slurm}
DB_PORT=${SLURM_LOCAL_DB_PORT:-3307}
CTLD_PORT=${SLURM_LOCAL_CTLD_PORT:-6817}   # slurmd listens on the next port, slurmdbd on the one after
WAIT_S=${SLURM_LOCAL_WAIT_S:-60}
# How long a requeued job waits before it may start again (slurm.conf AuthInfo cred_expire; SLURM's default,
# 120 s, would make each requeue test wait two minutes and show nothing more).
CRED_EXPIRE_S=${SLURM_LOCAL_CRED_EXPIRE_S:-10}
me="tools/slurm-local/start.sh"
fail() { echo "$me: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (munged runs as user munge, slurmd as root): run it with sudo"
for cmd in munged mariadbd mariadb-install-db mariadb-admin slurmdbd slurmctld slurmd sacctmgr sinfo srun setpriv; do
    command -v "$cmd" >/dev/null || fail "'$cmd' not found: apt-get install slurm-wlm slurmdbd munge mariadb-server"
done
[ -s "$STATE/pids" ] && fail "a cluster started from $STATE is still recorded in $STATE/pids: run tools/slurm-local/stop.sh first"
rm -rf "$STATE"
mkdir -p "$STATE"/{munge,state,spool,log}
chmod 755 "$STATE"
: > "$STATE/pids"
started() { echo "$1 $2" >> "$STATE/pids"; }   # name pid, in start order (stop.sh ends them in reverse)
give_up() {  # one line: what did not come up in time, and where its log is
    echo "$me: $1 (logs: $STATE/log/); stopping what started" >&2
    SLURM_LOCAL_DIR="$STATE" "$(dirname "$0")/stop.sh" >/dev/null 2>&1 || true
    exit 1
}
wait_for() {  # seconds, what, command...: poll (each try at most 5 s) until the command succeeds
    local seconds=$1 what=$2; shift 2
    local deadline=$((SECONDS + seconds))
    until timeout 5 "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -ge "$deadline" ] && give_up "$what did not come up within $seconds s"
        sleep 0.5
    done
}

# munge: a private key; munged as user munge on the default socket, which SLURM's clients use whatever
# slurm.conf says (sacctmgr's connection to slurmdbd ignores AuthInfo=socket=). A munged already
# answering there (a system one) is used instead: every daemon here then shares its key.
SOCKET=/run/munge/munge.socket.2
if timeout 5 munge -n -S "$SOCKET" > /dev/null 2>&1; then
    echo "$me: using the munged already running on $SOCKET" >&2
else
    dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1 count=1024 status=none
    chown -R munge:munge "$STATE/munge"
    chmod 700 "$STATE/munge"
    chmod 400 "$STATE/munge/munge.key"
    mkdir -p "$(dirname "$SOCKET")"
    chown munge:munge "$(dirname "$SOCKET")"
    chmod 755 "$(dirname "$SOCKET")"
    setpriv --reuid=munge --regid=munge --init-groups munged --foreground --socket="$SOCKET" --force \
        --key-file="$STATE/munge/munge.key" --pid-file="$STATE/munge/munged.pid" \
        --seed-file="$STATE/munge/munged.seed" --log-file="$STATE/munge/munged.log" > "$STATE/log/munged.out" 2>&1 &
    started munged $!
    wait_for 10 munged munge -n -S "$SOCKET"
fi

# MariaDB: a private datadir on 127.0.0.1 (no grant tables: it is reachable from this machine only)
mkdir -p "$STATE/mysql" "$STATE/mysql-run"
chown mysql:mysql "$STATE/mysql" "$STATE/mysql-run"
mariadb-install-db --no-defaults --user=mysql --datadir="$STATE/mysql" --auth-root-authentication-method=normal \
    > "$STATE/log/mariadb-install.log" 2>&1 || give_up "mariadb-install-db failed"
DB_SOCKET="$STATE/mysql-run/mysql.sock"
mariadbd --no-defaults --user=mysql --datadir="$STATE/mysql" --socket="$DB_SOCKET" --port="$DB_PORT" \
    --bind-address=127.0.0.1 --skip-grant-tables --pid-file="$STATE/mysql-run/mariadb.pid" \
    --log-error="$STATE/mysql-run/mariadb.log" > "$STATE/log/mariadb.out" 2>&1 &
started mariadbd $!
wait_for 30 "MariaDB on 127.0.0.1:$DB_PORT" mariadb-admin --no-defaults --socket="$DB_SOCKET" ping

NODE=$(hostname -s)
CPUS=$(nproc)
MEMORY=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
cat > "$STATE/slurmdbd.conf" <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdPort=$((CTLD_PORT + 2))
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=root
StorageLoc=slurm_acct_db
PidFile=$STATE/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
CONF
chmod 600 "$STATE/slurmdbd.conf"
cat > "$STATE/slurm.conf" <<CONF
ClusterName=ali-bench-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=$CTLD_PORT
SlurmdPort=$((CTLD_PORT + 1))
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$((CTLD_PORT + 2))
AccountingStoreFlags=job_comment
AccountingStorageTRES=gres/gpu
MinJobAge=300
SlurmctldParameters=enable_configless
ReturnToService=2
AuthInfo=cred_expire=$CRED_EXPIRE_S
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEMORY Gres=gpu:1 State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
# One GPU that is not there (its device file is /dev/null): a job asking for --gpus=1 is scheduled and accounted
# as on a GPU cluster (AccountingStorageTRES: sacct's AllocTRES shows gres/gpu=1), with CUDA_VISIBLE_DEVICES set;
# inside it torch finds no CUDA, so device auto trains on the CPU and device cuda is refused in one line.
echo "NodeName=$NODE Name=gpu File=/dev/null" > "$STATE/gres.conf"
export SLURM_CONF="$STATE/slurm.conf"   # the daemons and every client read it (slurmdbd.conf: beside it)

slurmdbd -D > "$STATE/log/slurmdbd.out" 2>&1 &
started slurmdbd $!
wait_for 30 slurmdbd sacctmgr -n show cluster
sacctmgr -i add cluster ali-bench-local > /dev/null
sacctmgr -i add account ali-bench Cluster=ali-bench-local Description=ali-bench Organization=ali-bench > /dev/null
for user in root ${SUDO_USER:-}; do
    sacctmgr -i add user "$user" Account=ali-bench DefaultAccount=ali-bench > /dev/null
done
slurmctld -D > "$STATE/log/slurmctld.out" 2>&1 &
started slurmctld $!
env -u SLURM_CONF slurmd -D --conf-server "127.0.0.1:$CTLD_PORT" > "$STATE/log/slurmd.out" 2>&1 &
started slurmd $!
node_idle() { [ "$(sinfo -h -N -o %T 2>/dev/null)" = idle ]; }
deadline=$((SECONDS + WAIT_S))
until node_idle && srun --immediate=5 hostname >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && give_up "node $NODE not idle with srun answering after $WAIT_S s (sinfo: $(sinfo -h -N -o %T 2>&1 | head -1))"
    sleep 1
done
echo "export SLURM_CONF=$SLURM_CONF" > "$STATE/env"
echo "$me: one-node SLURM up ($NODE, $CPUS CPUs, $MEMORY MB, accounting on); to use it: export SLURM_CONF=$SLURM_CONF" >&2
echo "export SLURM_CONF=$SLURM_CONF"
