"""One box, several GPUs: each concurrent ali_bench process takes a card of its own (CPU only: the
cards are flock'ed lock files, and torch.cuda is faked where resolve_device needs it)."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time

import pytest
import torch

from ali_bench import device as device_module
from ali_bench.device import claim_card, resolve_device

fcntl = pytest.importorskip("fcntl")  # flock: POSIX, where the GPU boxes are

WAITING = "held by other ali_bench jobs; waiting for one"

# fork: the holders start in milliseconds (a fresh interpreter would import torch, seconds each)
FORK = multiprocessing.get_context("fork")


def _hold(lock_dir, n_cards, claimed):
    """A stand-in for one ali_bench job: claim a card, report it, keep it until killed."""
    index, _handle = claim_card(n_cards, lock_dir, wait_s=10, poll_s=0.01)
    claimed.put((os.getpid(), index))
    time.sleep(60)


@pytest.fixture
def holders(tmp_path):
    """Start holder processes on tmp_path/locks; returns start(n) -> {pid: card}."""
    lock_dir = tmp_path / "locks"
    claimed, procs = FORK.Queue(), []

    def start(count: int, n_cards: int = 4) -> dict[int, int]:
        for _ in range(count):
            proc = FORK.Process(target=_hold, args=(lock_dir, n_cards, claimed), daemon=True)
            proc.start()
            procs.append(proc)
        # every holder keeps its card until killed, so these cards are all held at the same time
        return dict(claimed.get(timeout=20) for _ in range(count))

    start.lock_dir = lock_dir
    yield start
    for proc in procs:  # (a multiprocessing Event would hang in set() once a waiter was SIGKILLed)
        proc.kill()
        proc.join(5)


@pytest.fixture(autouse=True)
def fresh_claim():
    """Each test starts in a process that holds no card (the claim is cached per process)."""
    device_module._claimed_card.cache_clear()
    yield
    device_module._claimed_card.cache_clear()


@pytest.fixture
def fake_cuda(monkeypatch, tmp_path):
    """torch.cuda as on a box with ``n`` cards; records set_device calls."""
    calls: list[int] = []

    def install(n: int) -> list[int]:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
        monkeypatch.setattr(torch.cuda, "set_device", calls.append)
        return calls

    monkeypatch.setenv("ALI_BENCH_GPU_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return install


@contextlib.contextmanager
def held_elsewhere(path):
    """Hold a lock file through an open file description of its own (flock conflicts with it as
    with one of another process)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield


def test_concurrent_processes_take_different_cards(holders):
    cards = holders(4)
    assert sorted(cards.values()) == [0, 1, 2, 3]


def test_a_waiting_claimer_gets_the_card_of_a_killed_holder(holders, caplog):
    cards = holders(4)
    victim = next(pid for pid, card in cards.items() if card == 2)

    class KillWhenWaiting(logging.Handler):
        """Kill the holder of card 2 once the claimer has found every card held, after it has polled
        for a while (so that a line per poll would show)."""

        timer: threading.Timer | None = None

        def emit(self, record):
            if WAITING in record.getMessage() and self.timer is None:
                # SIGKILL: no cleanup runs in the holder, the OS alone frees its flock
                self.timer = threading.Timer(0.2, os.kill, (victim, signal.SIGKILL))
                self.timer.start()

    handler = KillWhenWaiting()
    device_module.log.addHandler(handler)
    try:
        with caplog.at_level(logging.WARNING, logger=device_module.__name__):
            index, handle = claim_card(4, holders.lock_dir, wait_s=10, poll_s=0.01)
    finally:
        device_module.log.removeHandler(handler)
    handle.close()
    assert index == 2
    waiting = [r for r in caplog.records if WAITING in r.getMessage()]
    assert len(waiting) == 1
    assert "all 4 GPUs" in waiting[0].getMessage() and "--resources gpu=4" in waiting[0].getMessage()


def test_a_claimer_never_shares_a_card(holders):
    holders(2, n_cards=2)
    with pytest.raises(TimeoutError):
        claim_card(2, holders.lock_dir, wait_s=0.05, poll_s=0.01)


def test_resolve_device_claims_a_free_card_once(fake_cuda, tmp_path):
    set_device = fake_cuda(3)
    with held_elsewhere(tmp_path / "locks" / "gpu0.lock"):
        device = resolve_device("cuda")
        assert device == torch.device("cuda", 1)
        assert set_device == [1]
        assert resolve_device("auto") == device  # the same card, not a second claim
        assert set_device == [1, 1]
        # the process keeps card 1 (its lock file stays open): another claimer gets card 2
        index, other = claim_card(3, tmp_path / "locks", wait_s=0)
        other.close()
        assert index == 2


def test_lock_files_follow_cuda_visible_devices(fake_cuda, monkeypatch, tmp_path):
    """Runs that see different cards of the box (CUDA_VISIBLE_DEVICES=4,6 here) lock those cards."""
    fake_cuda(2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
    with held_elsewhere(tmp_path / "locks" / "gpu4.lock"):
        assert resolve_device("cuda") == torch.device("cuda", 1)
    assert sorted(p.name for p in (tmp_path / "locks").iterdir()) == ["gpu4.lock", "gpu6.lock"]


def test_one_visible_card_takes_no_lock(fake_cuda, tmp_path):
    set_device = fake_cuda(1)
    device = resolve_device("cuda")
    assert device.type == "cuda" and device.index in (None, 0)
    assert not (tmp_path / "locks").exists()
    assert set_device == []


def test_cpu_takes_no_lock(fake_cuda, tmp_path):
    set_device = fake_cuda(4)
    assert resolve_device("cpu") == torch.device("cpu")
    assert not (tmp_path / "locks").exists()
    assert set_device == []
