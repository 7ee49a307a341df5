"""Checkpoints of sweeps: per-row integrity checks, a lock that is the parent's alone, and
worker processes that die with their parent (latentclass.experiments.storage,
latentclass.experiments.executors, ``latentclass sweep --workers N --checkpoint F``).

Checked literally: a real ``python -m latentclass sweep --workers 2 --checkpoint F`` is
killed with SIGKILL mid-sweep; its workers must be gone shortly after, and a plain restart
of the same command must complete with the rows of a serial run, bit for bit.
"""

import json
import logging
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest

from latentclass.experiments import SWEEP_COLUMNS, sweep_negatives
from latentclass.experiments.storage import _Checkpoint, _checkpoint_header
from latentclass.families import parse_class_probs
from latentclass.model import LatentClassModel

RHO = [0.5, 0.3, 0.2]
KS = (1, 3, 6, math.inf)

needs_proc = pytest.mark.skipif(
    not os.path.isdir("/proc/self"), reason="reads process states from /proc (Linux)"
)


@pytest.fixture(scope="module")
def model():
    return LatentClassModel.one_point_per_class(RHO)


@pytest.fixture(scope="module")
def serial(model):
    return sweep_negatives(model, KS, progress=False)


def same_rows(a, b, skip=("seconds",)):
    """Rows equal bit for bit (floats compared by ``hex``), ``seconds`` aside."""

    def bits(v):
        return v.hex() if isinstance(v, float) else v

    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert list(ra) == list(rb) == list(SWEEP_COLUMNS)
        for c in SWEEP_COLUMNS:
            if c not in skip:
                assert bits(ra[c]) == bits(rb[c]), (ra["k"], c, ra[c], rb[c])
                assert type(ra[c]) is type(rb[c]), (ra["k"], c)


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines()


# ----------------------------------------------------------------------------- integrity
def test_rows_carry_a_sha256_bound_to_the_sweep(model, tmp_path):
    path = tmp_path / "ck.jsonl"
    sweep_negatives(model, KS, checkpoint=path, progress=False)
    header, *rows = (json.loads(ln) for ln in _lines(path))
    assert (
        header["versions"]["numpy"] and header["code_version"] == header["versions"]["latentclass"]
    )
    for obj in rows:
        assert list(obj) == [*SWEEP_COLUMNS, "sha256"] and len(obj["sha256"]) == 64
    # the same row content under another sweep's header does not verify: a row copied from
    # another checkpoint is not reused
    other = tmp_path / "other.jsonl"
    sweep_negatives(model, [1], 0.5, checkpoint=other, progress=False)
    other_lines = _lines(other)
    other.write_text("\n".join([other_lines[0], _lines(path)[1]]) + "\n", encoding="utf-8")
    res = sweep_negatives(model, [1], 0.5, checkpoint=other, progress=False)
    assert [r["line"] for r in res.checkpoint_rejected] == [2]
    assert "integrity" in res.checkpoint_rejected[0]["reason"]


def test_edited_row_is_recomputed_never_passed_on(model, serial, tmp_path, caplog):
    path = tmp_path / "ck.jsonl"
    sweep_negatives(model, KS, checkpoint=path, progress=False)
    lines = _lines(path)
    edited = json.loads(lines[2])  # the k = 3 row
    assert edited["k"] == 3
    edited["loss"] = 999.0  # edited by hand, digest kept
    lines[2] = json.dumps(edited)
    damaged = json.loads(lines[4])  # the k = inf row: certified flipped, digest kept
    damaged["certified"] = not damaged["certified"]
    lines[4] = json.dumps(damaged)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    calls = []
    with caplog.at_level(logging.WARNING, logger="latentclass.experiments"):
        res = sweep_negatives(model, KS, checkpoint=path, progress=lambda p: calls.append(p.done))
    same_rows(res.rows, serial.rows)  # the edited rows were computed again
    assert res.rows[1]["loss"] != 999.0
    assert len(calls) == 2  # exactly the two rejected rows were recomputed
    assert [(r["line"], r["k"]) for r in res.checkpoint_rejected] == [(3, 3), (5, math.inf)]
    assert all("integrity check failed" in r["reason"] for r in res.checkpoint_rejected)
    messages = [r.getMessage() for r in caplog.records]
    assert any("line 3 (k=3) not reused" in m and "computed again" in m for m in messages)
    assert any(str(path) in m for m in messages)
    # the file keeps the bad lines (never rewritten in place) and gained the good rows
    stored = [json.loads(ln) for ln in _lines(path)[1:]]
    assert [r["k"] for r in stored] == [1, 3, 6, "inf", 3, "inf"]
    # a third run reuses every good row and reports the bad lines again, computing nothing
    calls.clear()
    again = sweep_negatives(model, KS, checkpoint=path, progress=lambda p: calls.append(p.done))
    assert calls == []
    same_rows(again.rows, res.rows, skip=())
    assert [r["line"] for r in again.checkpoint_rejected] == [3, 5]
    assert sweep_negatives(model, KS, progress=False).checkpoint_rejected == ()


def test_rows_of_other_versions_are_refused(model, tmp_path):
    path = tmp_path / "ck.jsonl"
    sweep_negatives(model, [1], checkpoint=path, progress=False)
    lines = _lines(path)
    head = json.loads(lines[0])
    head["numpy"] = "0.0.1"
    path.write_text("\n".join([json.dumps(head), *lines[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="different sweep") as exc:
        sweep_negatives(model, [1], checkpoint=path, progress=False)
    assert "numpy: file has '0.0.1'" in str(exc.value) and str(path) in str(exc.value)


# ----------------------------------------------------------------------------- the lock
def _started_then_sleep(ready):
    ready.set()  # the fork hooks have run by the time the target starts
    time.sleep(60)


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method"
)
def test_forked_child_does_not_hold_the_lock(model, tmp_path):
    """A child forked while the checkpoint is open (a fork-based pool started mid-sweep)
    closes its copy of the lock: once the parent closes the checkpoint, it is free, even
    while the child lives (with flock, any surviving copy would keep it locked)."""
    pytest.importorskip("fcntl")
    path = str(tmp_path / "ck.jsonl")
    header = _checkpoint_header(model.fingerprint(), 1.0, None)
    ck = _Checkpoint.open(path, header)
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    child = ctx.Process(target=_started_then_sleep, args=(ready,))
    child.start()
    try:
        assert ready.wait(30)
        with pytest.raises(ValueError, match="in use"):  # the parent still holds it
            _Checkpoint.open(path, header)
        ck.close()
        again = _Checkpoint.open(path, header)  # free, though the child is alive
        assert child.is_alive()
        again.close()
    finally:
        child.kill()
        child.join(10)


# ----------------------------------------------------------------------------- processes
def _children(pid):
    """Pids of the live (not zombie) direct children of ``pid``, from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return out


def _alive(pid):
    """Running (a zombie re-parented to an init that does not reap counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


def _wait_dead(pids, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


SPEC = "zipf:30:1.1"  # about 0.25 s per k: the kill lands mid-sweep
GRID = "1..8"


def _sweep_cmd(ck, out):
    return [
        sys.executable,
        "-m",
        "latentclass",
        "sweep",
        "--class-probs",
        SPEC,
        "--negatives",
        GRID,
        "--workers",
        "2",
        "--checkpoint",
        str(ck),
        "--out",
        str(out),
        "--no-progress",
    ]


@needs_proc
def test_cli_sigkill_leaves_no_worker_and_restart_completes(tmp_path):
    ck, out = tmp_path / "run.jsonl", tmp_path / "run.json"
    proc = subprocess.Popen(
        _sweep_cmd(ck, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path
    )
    workers = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            workers = sorted(set(workers) | set(_children(proc.pid)))
            if ck.exists() and ck.read_bytes().count(b"\n") >= 2:  # header + >= 1 row
                break
            if proc.poll() is not None:
                raise AssertionError(f"sweep ended before the kill: {proc.communicate()}")
            time.sleep(0.02)
        else:
            raise AssertionError("the checkpoint never received a row")
        workers = sorted(set(workers) | set(_children(proc.pid)))
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert len(workers) >= 2, workers  # the pool's workers (and a resource tracker, if any)
    assert _wait_dead(workers, timeout=10.0) == [], "workers outlived their killed parent"
    n_done = len(_lines(ck)) - 1
    assert 1 <= n_done < 8

    # a plain restart of the same command: not refused (no worker holds the lock), completes
    rerun = subprocess.run(
        _sweep_cmd(ck, out), capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "wrote 8 rows" in rerun.stdout
    rows = [
        {c: (float(v) if v in ("inf", "-inf") else v) for c, v in r.items()}
        for r in json.loads(out.read_text(encoding="utf-8"))["rows"]
    ]
    model = LatentClassModel.one_point_per_class(parse_class_probs(SPEC))
    reference = sweep_negatives(model, list(range(1, 9)), progress=False)
    same_rows(rows, reference.rows)
    stored = [json.loads(ln)["k"] for ln in _lines(ck)[1:]]
    assert sorted(stored) == list(range(1, 9))  # none lost, none duplicated


_POOL_SCRIPT = r"""
import os, sys, time
from latentclass.experiments import process_pool
pool = process_pool(2)
pids = set()
while len(pids) < 2:  # spawn both workers; then they sit idle
    pids |= set(f.result() for f in [pool.submit(os.getpid) for _ in range(4)])
print(" ".join(map(str, sorted(pids))), flush=True)
time.sleep(120)
"""


@needs_proc
def test_process_pool_workers_die_with_their_parent_even_idle():
    proc = subprocess.Popen(
        [sys.executable, "-c", _POOL_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        line = proc.stdout.readline().decode()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 2, (line, proc.stderr.read() if proc.poll() is not None else "")
        assert all(_alive(p) for p in pids)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert _wait_dead(pids, timeout=10.0) == []


def test_process_pool_is_a_spawn_pool():
    from latentclass.experiments import process_pool

    with process_pool(1) as pool:
        assert pool._mp_context.get_start_method() == "spawn"
        assert pool.submit(os.getppid).result() == os.getpid()
    with pytest.raises(ValueError, match="workers"):
        process_pool(0)
