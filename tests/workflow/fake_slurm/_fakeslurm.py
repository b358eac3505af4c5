"""What the stand-in SLURM commands in this folder share: a tiny "cluster" kept in files.

Not a scheduler: `sbatch` runs each job at once, synchronously, and the other commands report
what it recorded. Enough of SLURM for snakemake-executor-plugin-slurm to drive a real workflow
(tests/workflow/test_slurm_profile.py). Every command refuses options it does not know, as SLURM's do,
so a wrong flag from the plugin or the profile fails the test instead of passing unseen.

State lives in $FAKE_SLURM_DIR:
  calls.jsonl      one line per invocation of any stand-in: {"command", "argv", "cwd"}
  sbatch.jsonl     one line per submission: argv, stdin, the job script, parsed options, job id
  jobs/<id>.json   one job (array task: <id>_<task>): name, account, partition, state, exit code
  scripts/<id>.sh  the batch script as sbatch ran it; logs go where --output says

The cluster's shape comes from the environment (defaults in brackets):
  FAKE_SLURM_PARTITIONS  comma list, default marked with * ["main*,gpu"]
  FAKE_SLURM_ACCOUNTS    comma list of the user's accounts ["fake_account"]
  FAKE_SLURM_MIN_JOB_AGE seconds, reported by `scontrol show config` [300]
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path

FIRST_JOBID = 1000
NODE = "fakenode1"
CLUSTER = "fakecluster"
ACTIVE_STATES = ("PENDING", "RUNNING", "COMPLETING")
COMPACT_STATE = {
    "PENDING": "PD",
    "RUNNING": "R",
    "COMPLETING": "CG",
    "COMPLETED": "CD",
    "FAILED": "F",
    "TIMEOUT": "TO",
    "CANCELLED": "CA",
    "OUT_OF_MEMORY": "OOM",
    "NODE_FAIL": "NF",
}


class Usage(Exception):
    """A command-line error: printed as `<command>: error: ...`, exit status 1."""


def die(command: str, message: str, status: int = 1) -> None:
    print(f"{command}: error: {message}", file=sys.stderr)
    sys.exit(status)


def state_dir(command: str, required: bool = False) -> Path | None:
    value = os.environ.get("FAKE_SLURM_DIR")
    if not value:
        if required:
            die(command, "FAKE_SLURM_DIR is not set (the stand-in SLURM keeps its jobs there)")
        return None
    path = Path(value)
    (path / "jobs").mkdir(parents=True, exist_ok=True)
    (path / "scripts").mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def locked(root: Path):
    with open(root / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def append_jsonl(root: Path, name: str, record: dict) -> None:
    with locked(root), open(root / name, "a") as handle:
        handle.write(json.dumps(record) + "\n")


def log_call(command: str, argv: list[str]) -> Path | None:
    """Record this invocation (if a state folder is set) and return the folder."""
    root = state_dir(command)
    if root is not None:
        append_jsonl(root, "calls.jsonl", {"command": command, "argv": argv, "cwd": os.getcwd(), "time": time.time()})
    return root


def next_jobid(root: Path) -> int:
    with locked(root):
        counter = root / "next_jobid"
        jobid = int(counter.read_text()) if counter.exists() else FIRST_JOBID
        counter.write_text(str(jobid + 1))
    return jobid


def write_job(root: Path, job: dict) -> None:
    path = root / "jobs" / f"{job['jobid']}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(job, indent=1))
    os.replace(tmp, path)


def read_jobs(root: Path | None) -> list[dict]:
    if root is None:
        return []
    jobs = [json.loads(p.read_text()) for p in (root / "jobs").glob("*.json")]
    return sorted(jobs, key=lambda job: [int(part) for part in job["jobid"].split("_")])


def partitions() -> list[str]:
    """Partition names as sinfo prints them: the default one ends with '*'."""
    return [p.strip() for p in os.environ.get("FAKE_SLURM_PARTITIONS", "main*,gpu").split(",") if p.strip()]


def partition_names() -> list[str]:
    return [p.rstrip("*") for p in partitions()]


def default_partition() -> str | None:
    return next((p.rstrip("*") for p in partitions() if p.endswith("*")), None)


def accounts() -> list[str]:
    return [a.strip() for a in os.environ.get("FAKE_SLURM_ACCOUNTS", "fake_account").split(",") if a.strip()]


def user() -> str:
    return getpass.getuser()


def parse_args(
    argv: list[str],
    with_value: dict[str, str],
    flags: dict[str, str],
    positional_ok: bool = True,
    stop_at_positional: bool = False,
):
    """getopt-like parsing of SLURM-style options.

    with_value / flags map every accepted spelling ("-t", "--time") to a canonical name.
    Long options take `--opt=value` or `--opt value`; short ones `-tVALUE` or `-t VALUE`, and
    short flags bundle (`-nu user`). Returns (options, positional); a repeated option keeps its
    last value, as SLURM's commands do. stop_at_positional: everything from the first positional
    on is positional (sbatch's script arguments, srun's command).
    """
    options: dict[str, object] = {}
    positional: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if stop_at_positional and positional:
            positional.append(arg)
        elif arg == "--":
            positional.extend(argv[i + 1 :])
            break
        elif arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name in with_value:
                if not eq:
                    i += 1
                    if i == len(argv):
                        raise Usage(f"option '{name}' requires an argument")
                    value = argv[i]
                options[with_value[name]] = value
            elif name in flags and not eq:
                options[flags[name]] = True
            else:
                raise Usage(f"unrecognized option '{arg}'")
        elif arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                short = "-" + arg[j]
                if short in with_value:
                    value = arg[j + 1 :]
                    if not value:
                        i += 1
                        if i == len(argv):
                            raise Usage(f"option requires an argument -- '{arg[j]}'")
                        value = argv[i]
                    options[with_value[short]] = value
                    break
                if short in flags:
                    options[flags[short]] = True
                    j += 1
                    continue
                raise Usage(f"invalid option -- '{arg[j]}'")
        else:
            if not positional_ok:
                raise Usage(f"unexpected argument '{arg}'")
            positional.append(arg)
        i += 1
    return options, positional


def field_spec(spec: str) -> tuple[str, int | None]:
    """'Account%256' -> ('account', 256); 'State' -> ('state', None)."""
    name, _, width = spec.partition("%")
    return name.strip().lower(), (abs(int(width)) if width.strip().lstrip("-").isdigit() else None)


def run(main) -> None:
    """Entry point wrapper: usage errors are one line and exit status 1, like SLURM's."""
    command = Path(sys.argv[0]).name
    try:
        main(command, sys.argv[1:])
    except Usage as error:
        print(f"{command}: error: {error}", file=sys.stderr)
        print(f'Try "{command} --help" for more information', file=sys.stderr)
        sys.exit(1)


TIME_RE = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")


def time_limit_seconds(value: str) -> int | None:
    """SLURM's --time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S; None if invalid."""
    if value in ("UNLIMITED", "INFINITE", "infinite"):
        return 0
    match = TIME_RE.match(value)
    if not match:
        return None
    days, a, b, c = match.groups()
    if days is not None:  # D-H[:M[:S]]
        return int(days) * 86400 + int(a) * 3600 + int(b or 0) * 60 + int(c or 0)
    if c is not None:  # H:M:S
        return int(a) * 3600 + int(b) * 60 + int(c)
    if b is not None:  # M:S
        return int(a) * 60 + int(b)
    return int(a) * 60  # M
