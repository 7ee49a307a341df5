"""Sweeps over k (executors, crash-safe checkpoints, output files), the degradation search
and the ``latentclass sweep`` command (latentclass.experiments, latentclass.cli).

Independent computations used here:
- the uniform-ρ rows against SPEC §5's closed forms (binomial sum for L_k, the simplex's
  mean-classifier loss log(1 + (m−1) e^{−m/((m−1)τ)}) and accuracy 1);
- τ_k, υ_{k+1} (enumeration of all class sequences), Coll_k (binomial sum) and each bound
  written out by hand from its formula at the row's R;
- the mean-classifier loss recomputed from the optimal Gram matrix with scipy's logsumexp;
- the degradation-search points against CVXPY + Clarabel (latentclass.conic, which shares
  no code with the population engine or the optimiser);
- largest_rise against the O(n²) definition on random and hand-made curves;
- a sweep killed with SIGKILL in a subprocess and restarted, against an uninterrupted run.
"""

import concurrent.futures
import csv
import io
import itertools
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from fractions import Fraction

import numpy as np
import pytest
from scipy.special import logsumexp

import latentclass.experiments.degradation as degradation
from latentclass._progress import Progress
from latentclass.cli import main
from latentclass.experiments import (
    DEGRADATION_COLUMNS,
    SWEEP_COLUMNS,
    largest_rise,
    parse_ks,
    search_degradation,
    sweep_negatives,
)
from latentclass.model import LatentClassModel
from latentclass.optimize import optimal_representation

RHO = np.array([0.5, 0.3, 0.2])
KS = (1, 3, 6, math.inf)


@pytest.fixture(scope="module")
def model():
    return LatentClassModel.one_point_per_class(RHO)


@pytest.fixture(scope="module")
def serial(model):
    return sweep_negatives(model, KS, progress=False)


def assert_same_rows(a, b, skip=("seconds",)):
    """Rows equal bit for bit (repr distinguishes every float, ±0 included)."""
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert list(ra) == list(SWEEP_COLUMNS) and list(rb) == list(SWEEP_COLUMNS)
        for c in SWEEP_COLUMNS:
            if c not in skip:
                assert repr(ra[c]) == repr(rb[c]), (c, ra[c], rb[c])


# ----------------------------------------------------------------------------- row values
def _binom_pmf(j, k, p):
    return math.comb(k, j) * p**j * (1 - p) ** (k - j)


def _coverage_by_enumeration(rho, draws):
    m = len(rho)
    total = Fraction(0)
    R = [Fraction(x) for x in rho]
    for seq in itertools.product(range(m), repeat=draws):
        if len(set(seq)) == m:
            w = Fraction(1)
            for c in seq:
                w *= R[c]
            total += w
    return float(total)


def _hand_bounds(rho, k, R, tau):
    rho = np.asarray(rho, dtype=float)
    C = rho.size
    tau_k = math.fsum(p * (1 - (1 - p) ** k) for p in rho)
    coll = math.fsum(p * _binom_pmf(j, k, p) * math.log(1 + j) for p in rho for j in range(k + 1))
    ups = _coverage_by_enumeration(rho, k + 1)
    H = float(sum(Fraction(1, i) for i in range(1, C)))
    uniform = np.ptp(rho) == 0
    cosh = math.cosh(1 / tau)
    return {
        "collision_probability": tau_k,
        "coverage_probability": ups,
        "expected_log_collisions": coll,
        "bound_saunshi": math.inf if ups == 0 else (R - coll) / ((1 - tau_k) * ups),
        "bound_ash": (2 * max(1, 2 * (C - 1) * H / k) / (1 - tau_k) * (R - coll))
        if uniform
        else None,
        "bound_nozawa_sato": math.inf if ups == 0 else (2 * R - coll) / ups,
        "bound_bao": R + math.log(rho.max() * C**2 * cosh**2 / k),
        "bound_bao_lower": R
        - math.fsum(rho * np.log(rho))
        + math.log(k)
        - 2 * math.log(1 + k)
        - 2 * math.log(cosh),
    }


def _check_theory_columns(row, rho, tau):
    k = row["k"]
    if k == math.inf:
        assert row["collision_probability"] == 1.0 and row["coverage_probability"] == 1.0
        for c in SWEEP_COLUMNS:
            if c.startswith("bound_") or c == "expected_log_collisions":
                assert row[c] is None
        return
    for c, v in _hand_bounds(rho, k, row["loss"], tau).items():
        if v is None or math.isinf(v):
            assert row[c] == v, c
        else:
            assert row[c] == pytest.approx(v, rel=1e-12, abs=1e-14), c


def test_uniform_rows_match_closed_forms():
    m, tau = 3, 0.7
    rho = np.full(m, 1 / m)
    res = sweep_negatives(LatentClassModel.one_point_per_class(rho), [1, 2, 5], tau, progress=False)
    q = math.exp(-m / ((m - 1) * tau))
    downstream = math.log(1 + (m - 1) * q)
    for row in res.rows:
        k = row["k"]
        Lk = math.fsum(
            _binom_pmf(j, k, 1 / m) * math.log(1 + j + (k - j) * q) for j in range(k + 1)
        )
        assert row["loss"] == pytest.approx(Lk, rel=1e-13)
        assert row["certified"] is True and row["duality_gap"] <= 1e-7
        for prefix in ("", "balanced_"):
            assert row[prefix + "mean_classifier_loss"] == pytest.approx(downstream, rel=1e-13)
            assert row[prefix + "mean_classifier_accuracy"] == 1.0
        _check_theory_columns(row, rho, tau)
        assert row["bound_ash"] is not None


def test_nonuniform_rows_against_independent_computations(model, serial):
    assert serial.ks == KS and len(serial) == len(KS)
    for row in serial.rows:
        k = row["k"]
        assert set(row) == set(SWEEP_COLUMNS)
        assert row["certified"] is True and 0 <= row["duality_gap"] <= 1e-7
        assert row["method"] == "numerical"
        _check_theory_columns(row, RHO, 1.0)
        # the row's optimum is optimal_representation(model, k, rng=0) computed with one BLAS
        # thread, as every sweep task is (docs/sweeps.md): recompute it the same way and
        # evaluate the mean classifier from its Gram matrix with plain logsumexp
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            opt = optimal_representation(model, k, rng=0)
        # L_k and L_inf in separate columns: the other one is None
        own, other = ("loss_limit", "loss") if k == math.inf else ("loss", "loss_limit")
        assert row[own] == opt.loss and row[other] is None
        G = np.asarray(opt.gram)
        per_class = logsumexp(G, axis=1) - np.diag(G)  # class level: logits G[c, :] / tau
        assert row["mean_classifier_loss"] == pytest.approx(float(RHO @ per_class), rel=1e-12)
        assert row["balanced_mean_classifier_loss"] == pytest.approx(
            float(per_class.mean()), rel=1e-12
        )
        assert row["seconds"] > 0
    assert all(
        isinstance(v, (int, float, bool, str, type(None))) for r in serial.rows for v in r.values()
    )
    assert not any(isinstance(v, float) and math.isnan(v) for r in serial.rows for v in r.values())


def test_result_is_frozen_and_has_columns(serial):
    assert serial.columns == SWEEP_COLUMNS
    assert serial.column("k") == KS
    with pytest.raises(AttributeError):
        serial.rows = ()
    assert "SweepResult(4 rows" in repr(serial)
    with pytest.raises(ValueError, match="name"):
        serial.column("nope")


# executors: tests/test_reproducibility.py (serial, threads, process pools, a Dask cluster)


# ----------------------------------------------------------------------------- checkpoint
def _row_lines(path):
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    return [json.loads(ln) for ln in lines[1:]]


def test_checkpoint_rerun_reuses_rows(model, serial, tmp_path):
    path = tmp_path / "ck.jsonl"
    first = sweep_negatives(model, KS, checkpoint=path, progress=False)
    assert_same_rows(first.rows, serial.rows)
    calls = []
    again = sweep_negatives(
        model, KS, checkpoint=str(path), progress=lambda p: calls.append(p.done)
    )
    assert calls == []  # nothing recomputed
    assert_same_rows(again.rows, first.rows, skip=())  # identical, including the stored seconds
    assert [r["k"] for r in _row_lines(path)] == [1, 3, 6, "inf"]
    # a subset and a superset of ks: only the new k is computed
    sub = sweep_negatives(model, [6, 1], checkpoint=path, progress=False)
    assert_same_rows(sub.rows, [first.rows[2], first.rows[0]], skip=())
    more = sweep_negatives(
        model, [1, 2], checkpoint=path, progress=lambda p: calls.append((p.done, p.total))
    )
    assert calls == [(2, 2)]
    assert sorted(str(r["k"]) for r in _row_lines(path)) == ["1", "2", "3", "6", "inf"]
    assert_same_rows(more.rows[:1], first.rows[:1], skip=())


def test_checkpoint_torn_last_line_is_dropped(model, serial, tmp_path):
    path = tmp_path / "ck.jsonl"
    sweep_negatives(model, KS[:2], checkpoint=path, progress=False)
    with open(path, "ab") as fh:  # a write cut short by kill -9
        fh.write(b'{"k": 6, "loss": 1.23')
    res = sweep_negatives(model, KS, checkpoint=path, progress=False)
    assert_same_rows(res.rows, serial.rows)
    rows = _row_lines(path)
    assert [r["k"] for r in rows] == [1, 3, 6, "inf"]
    # a complete-looking row missing its newline is also treated as torn
    text = path.read_text(encoding="utf-8")
    path.write_text(text.rstrip("\n"), encoding="utf-8")
    res = sweep_negatives(model, KS, checkpoint=path, progress=False)
    assert_same_rows(res.rows, serial.rows)
    assert [r["k"] for r in _row_lines(path)] == [1, 3, 6, "inf"]
    # a torn header: the file is restarted
    path.write_bytes(b'{"magic": "latentclass-sw')
    res = sweep_negatives(model, KS[:1], checkpoint=path, progress=False)
    assert_same_rows(res.rows, serial.rows[:1])


def test_checkpoint_refuses_other_sweeps_and_corruption(model, tmp_path):
    path = tmp_path / "ck.jsonl"
    sweep_negatives(model, [1], checkpoint=path, progress=False)
    other = LatentClassModel.one_point_per_class([0.4, 0.4, 0.2])
    for kwargs in ({"model": other}, {"tau": 0.5}, {"dim": 2}):
        args = {"model": model, "tau": 1.0, "dim": None} | kwargs
        with pytest.raises(ValueError, match="checkpoint") as exc:
            sweep_negatives(
                args["model"], [1], args["tau"], dim=args["dim"], checkpoint=path, progress=False
            )
        assert str(path) in str(exc.value) and "different sweep" in str(exc.value)
    # a damaged line inside the file is not a row: never reused, reported, its k recomputed
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0], "garbage", lines[1]]) + "\n", encoding="utf-8")
    res = sweep_negatives(model, [1], checkpoint=path, progress=False)
    assert res.checkpoint_rejected == ({"line": 2, "k": None, "reason": "not a JSON object"},)
    path.write_text('{"something": "else"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="not a latentclass sweep checkpoint"):
        sweep_negatives(model, [1], checkpoint=path, progress=False)
    for text in ("hello", "k,loss\n1,2\n", "hello\n"):  # someone else's file: refused, untouched
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match="not a latentclass sweep checkpoint"):
            sweep_negatives(model, [1], checkpoint=path, progress=False)
        assert path.read_text(encoding="utf-8") == text


def test_checkpoint_in_use_is_refused(model, tmp_path):
    fcntl = pytest.importorskip("fcntl")
    path = tmp_path / "ck.jsonl"
    with open(path, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        with pytest.raises(ValueError, match="in use"):
            sweep_negatives(model, [1], checkpoint=path, progress=False)


_KILL_SCRIPT = r"""
import sys, time
import latentclass.experiments.sweep as S
from latentclass.model import LatentClassModel
_row = S._sweep_row
def slow(*args):  # make every k slow so that the kill lands mid-sweep
    row = _row(*args)
    time.sleep(0.4)
    return row
S._sweep_row = slow
model = LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
S.sweep_negatives(model, [1, 2, 3, 4, 5, 6, 7, 8], checkpoint=sys.argv[1], progress=False)
print("finished")
"""


def _run_and_kill(path, n_rows):
    """Start the slow sweep in a subprocess, SIGKILL it once the file holds n_rows rows."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if path.exists() and path.read_bytes().count(b"\n") >= 1 + n_rows:
                break
            if proc.poll() is not None:
                raise AssertionError(f"sweep ended before the kill: {proc.communicate()}")
            time.sleep(0.02)
        else:
            raise AssertionError("checkpoint never reached the expected size")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_mid_sweep_then_resume_equals_uninterrupted(model, tmp_path):
    ks = [1, 2, 3, 4, 5, 6, 7, 8]
    path = tmp_path / "killed.jsonl"
    _run_and_kill(path, 1)
    n1 = len(_row_lines(path))
    assert 1 <= n1 < len(ks)
    _run_and_kill(path, n1 + 2)  # resume in a new process and kill it again
    n2 = len(_row_lines(path))
    assert n1 + 2 <= n2 < len(ks)
    resumed = sweep_negatives(model, ks, checkpoint=path, progress=False)
    uninterrupted = sweep_negatives(model, ks, progress=False)
    assert_same_rows(resumed.rows, uninterrupted.rows)
    stored = _row_lines(path)
    assert sorted(r["k"] for r in stored) == ks  # none lost, none duplicated


# ----------------------------------------------------------------------------- output files
def _csv_table(path):
    """The rows of a CSV written by latentclass (``# key: value`` lines skipped)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


def _csv_comments(path):
    with open(path, encoding="utf-8") as fh:
        lines = [ln.rstrip("\n") for ln in fh if ln.startswith("#")]
    return lines[0], dict(ln[2:].split(": ", 1) for ln in lines[1:])


def test_csv_and_json_round_trip(serial, tmp_path):
    serial.to_csv(tmp_path / "s.csv")
    table = _csv_table(tmp_path / "s.csv")
    assert len(table) == len(serial.rows)
    for row, cells in zip(serial.rows, table):
        assert list(cells) == list(SWEEP_COLUMNS)
        for c in SWEEP_COLUMNS:
            v, cell = row[c], cells[c]
            if v is None:
                assert cell == ""
            elif isinstance(v, bool):
                assert cell == str(v)
            elif isinstance(v, str):
                assert cell == v
            else:
                assert float(cell) == v  # exact: floats are written with repr
    serial.to_json(tmp_path / "s.json")
    with open(tmp_path / "s.json", encoding="utf-8") as fh:
        text = fh.read()
    assert "Infinity" not in text and "NaN" not in text  # strict JSON
    doc = json.loads(text)
    assert doc["format"] == "latentclass-sweep" and doc["columns"] == list(SWEEP_COLUMNS)
    assert (doc["model_fingerprint"], doc["tau"], doc["dim"]) == (
        serial.model_fingerprint,
        1.0,
        None,
    )
    data = doc["rows"]
    assert len(data) == len(serial.rows)
    for row, obj in zip(serial.rows, data):
        for c in SWEEP_COLUMNS:
            v = row[c]
            assert obj[c] == ("inf" if v == math.inf else v)
    buf = io.StringIO()
    serial.to_csv(buf)
    assert buf.getvalue() == (tmp_path / "s.csv").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="path"):
        serial.to_csv(tmp_path / "missing" / "s.csv")


def test_pandas_reads_the_outputs(serial, tmp_path):
    pd = pytest.importorskip("pandas")
    serial.to_csv(tmp_path / "s.csv")
    # round-trip float parsing: before pandas 3 the default parser may differ from Python's
    # repr in the last bit (pandas 1.5), so ask for it; pandas 3 parses exactly by default and
    # deprecates the argument.  The file holds repr(float), exact (checked below)
    major = int(pd.__version__.split(".")[0])
    exact = {"float_precision": "round_trip"} if major < 3 else {}
    df = pd.read_csv(tmp_path / "s.csv", comment="#", **exact)
    assert list(df.columns) == list(SWEEP_COLUMNS)
    finite = [r["k"] != math.inf for r in serial.rows]
    assert df["loss"][finite].tolist() == [r["loss"] for r in serial.rows if r["k"] != math.inf]
    assert df["loss"].isna().tolist() == [not f for f in finite]
    assert df["loss_limit"].dropna().tolist() == [serial.rows[-1]["loss_limit"]]
    serial.to_json(tmp_path / "s.json")
    with open(tmp_path / "s.json", encoding="utf-8") as fh:
        dj = pd.DataFrame(json.load(fh)["rows"])
    assert list(dj.columns) == list(SWEEP_COLUMNS) and len(dj) == len(serial.rows)


# ----------------------------------------------------------------------------- provenance
def test_written_tables_record_versions(serial, tmp_path):
    import numpy
    import scipy

    import latentclass
    from latentclass._provenance import versions

    v = versions()
    assert list(v) == ["latentclass", "python", "numpy", "scipy", "platform"]
    assert v["latentclass"] == latentclass.__version__
    assert (v["numpy"], v["scipy"]) == (numpy.__version__, scipy.__version__)
    assert v["python"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert serial.versions == v
    v["numpy"] = "edited"  # a fresh dict each call
    assert versions()["numpy"] == numpy.__version__
    serial.to_csv(tmp_path / "s.csv")
    title, meta = _csv_comments(tmp_path / "s.csv")
    assert "comment=" in title
    assert meta == {
        **{key: str(val) for key, val in versions().items()},
        "model_fingerprint": serial.model_fingerprint,
        "tau": "1.0",
        "dim": "None",
    }
    serial.to_json(tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))["versions"] == versions()


# ----------------------------------------------------------------------------- progress
def test_progress_callback_and_bar(model, capsys):
    calls = []
    sweep_negatives(model, [1, 2], progress=calls.append)
    assert [(p.done, p.total, p.stage) for p in calls] == [(1, 2, "sweep over k")] + [
        (2, 2, "sweep over k")
    ]
    assert [p.detail["k"] for p in calls] == [1, 2]  # the new row
    assert all(isinstance(p, Progress) for p in calls)
    sweep_negatives(model, [1, 2], progress=True)
    err = capsys.readouterr().err
    assert "sweep over k" in err and "2/2" in err
    sweep_negatives(model, [1], progress=False)
    sweep_negatives(model, [1])  # None: stderr is not a terminal under pytest
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "ks,exc,match",
    [
        ([], ValueError, "ks must be a non-empty"),
        ([1, 1.5], ValueError, r"ks\[1\] must be an integer"),
        ([0], ValueError, r"ks\[0\] must be an integer >= 1"),
        ([2, 3, 2], ValueError, "ks must not repeat"),
        ([math.inf, float("inf")], ValueError, "ks must not repeat"),
        ([-math.inf], ValueError, r"ks\[0\]"),
        ([math.nan], ValueError, r"ks\[0\]"),
        (5, TypeError, "ks must be a sequence"),
        ("1,2", TypeError, "ks must be a sequence"),
        ([True], TypeError, r"ks\[0\]"),
        (["3"], TypeError, r"ks\[0\]"),
    ],
)
def test_bad_ks(model, ks, exc, match):
    with pytest.raises(exc, match=match):
        sweep_negatives(model, ks, progress=False)


def test_bad_arguments(model, tmp_path):
    with pytest.raises(ValueError, match="tau"):
        sweep_negatives(model, [1], 0.0)
    with pytest.raises(ValueError, match="dim"):
        sweep_negatives(model, [1], dim=0)
    with pytest.raises(ValueError, match="dim"):
        sweep_negatives(model, [1], dim=4)
    missing = tmp_path / "no" / "such" / "dir" / "ck.jsonl"
    with pytest.raises(ValueError, match="checkpoint") as exc:
        sweep_negatives(model, [1], checkpoint=missing)
    assert str(missing) in str(exc.value)
    with pytest.raises(ValueError, match="checkpoint.*directory"):
        sweep_negatives(model, [1], checkpoint=tmp_path)
    with pytest.raises(TypeError, match="checkpoint"):
        sweep_negatives(model, [1], checkpoint=3)
    with pytest.raises(TypeError, match="model"):
        sweep_negatives(RHO, [1])
    with pytest.raises(TypeError, match="executor"):
        sweep_negatives(model, [1], executor=object())
    with pytest.raises(TypeError, match="progress"):
        sweep_negatives(model, [1], progress=3)


def test_parse_ks():
    assert parse_ks("1,2,4") == (1, 2, 4)
    assert parse_ks("1..4, 8 ,inf") == (1, 2, 3, 4, 8, math.inf)
    for bad, match in [
        ("", "non-empty|list"),
        ("0", ">= 1"),
        ("1.5", "integer"),
        ("a..3", "integer"),
        ("4..2", "start <= end"),
        ("1,1", "repeat"),
        ("1..3,2", "repeat"),
        ("1..10000000", "more than"),
    ]:
        with pytest.raises(ValueError, match="--negatives") as exc:
            parse_ks(bad, name="--negatives")
        assert re.search(match, str(exc.value))


# ----------------------------------------------------------------------------- rise
def _rise_brute(v):
    best = None
    for j in range(1, len(v)):
        for i in range(j):
            d = v[j] - v[i]
            if best is None or d > best[0]:
                best = (d, i, j)
    return best


def test_largest_rise_hand_made_curves():
    assert largest_rise([3.0, 2.0, 1.0]) == (-1.0, 0, 1)
    assert largest_rise([1.0, 3.0, 0.0, 2.0]) == (2.0, 0, 1)
    assert largest_rise([5.0, 1.0, 4.0, 0.0, 3.0]) == (3.0, 1, 2)
    assert largest_rise([2.0, 1.0, 1.0, 1.5, 0.5, 0.7]) == (0.5, 1, 3)
    assert largest_rise([0.0, 0.0]) == (0.0, 0, 1)
    # a decrease followed by a late bump: the rise is measured from the running minimum
    assert largest_rise([0.9, 0.6, 0.5, 0.55, 0.4, 0.41])[0] == pytest.approx(0.05)
    for bad in ([1.0], [], [[1.0, 2.0]], [1.0, math.nan]):
        with pytest.raises(ValueError, match="values"):
            largest_rise(bad)


def test_largest_rise_matches_definition_on_random_curves():
    gen = np.random.default_rng(7)
    for n in [2, 3, 5, 10, 40]:
        for _ in range(50):
            v = gen.normal(size=n).round(1)  # rounding creates ties
            rise, i, j = largest_rise(v)
            b_rise, b_i, b_j = _rise_brute(v)
            assert rise == b_rise and i < j
            assert v[j] - v[i] == rise
            assert (i, j) == (b_i, b_j)  # earliest j, then earliest i


# ----------------------------------------------------------------------------- search
def test_search_degradation_small_budget_is_certified_and_exact(tmp_path):
    ks = (1, 2, 4, math.inf)
    res = search_degradation(
        ["zipf:3:1.5", "dominant:4:0.85"],
        ks,
        n_random=1,
        random_classes=(3,),
        random_alpha=(0.5,),
        rng=3,
        top=2,
        progress=False,
    )
    assert res.n_distributions == 3 and res.ks == ks
    assert len(res.cases) == 6 and set(res.worst) == {"class_probs", "balanced"}
    assert res.all_certified
    for case in res.cases:
        assert case.certified.all() and np.all(case.duality_gaps <= 1e-7)
        rise, i, j = largest_rise(case.losses)
        assert (case.rise, case.rise_from, case.rise_to) == (rise, ks[i], ks[j])
        assert case.certified_rise == rise
        assert len(case.curve()) == len(ks)
    for w, worst in res.worst.items():
        assert len(worst) == 2 and worst[0].rise == res.max_rise[w]
        assert all(c.weighting == w for c in worst)
        # the worst curves were re-solved from a random start: the two optima agree
        assert all(c.resolution is not None and c.resolution < 1e-6 for c in worst)
        assert all(worst[0].rise >= c.rise for c in res.cases if c.weighting == w)
    # recompute two points: the same call (same bits), and CVXPY + Clarabel (independent)
    from latentclass.conic import conic_optimum
    from latentclass.downstream import mean_classifier_loss

    case = next(
        c for c in res.cases if c.name == "dominant:4:0.85" and c.weighting == "class_probs"
    )
    bal = next(c for c in res.cases if c.name == "dominant:4:0.85" and c.weighting == "balanced")
    M = LatentClassModel.one_point_per_class(case.class_probs)
    from latentclass.experiments.executors import _one_blas_thread

    for idx in (1, 3):
        k = ks[idx]
        # the experiment computes each task with one BLAS thread (its own pin, used here):
        # the same bits need the same thread count (OpenBLAS 0.3.21 with two threads differs
        # in the last bit here)
        with _one_blas_thread():
            opt = optimal_representation(M, k, rng=0)
        assert opt.certified
        assert case.losses[idx] == mean_classifier_loss(M, opt.F, weighting="class_probs")
        assert bal.losses[idx] == mean_classifier_loss(M, opt.F, weighting="balanced")
        G = conic_optimum(M, k).gram
        per_class = logsumexp(G, axis=1) - np.diag(G)
        # Clarabel's Gram matrix is accurate to ~1e-6 (its loss to ~1e-11): the downstream
        # loss, a smooth function of G, agrees to that accuracy
        assert float(case.class_probs @ per_class) == pytest.approx(case.losses[idx], abs=5e-6)
        assert float(per_class.mean()) == pytest.approx(bal.losses[idx], abs=5e-6)
    assert "largest rise" in res.summary()
    _check_degradation_files(res, tmp_path)


def _check_degradation_files(res, tmp_path):
    """The search's CSV and JSON: versions first, one row per (case, k), L_k and L_inf apart."""
    from latentclass._provenance import versions

    rows = res.rows()
    assert len(rows) == len(res.cases) * len(res.ks)
    assert all(list(r) == list(DEGRADATION_COLUMNS) for r in rows)
    for r in rows:
        if r["k"] == math.inf:
            assert r["contrastive_loss"] is None and r["contrastive_loss_limit"] is not None
        else:
            assert r["contrastive_loss"] is not None and r["contrastive_loss_limit"] is None
    res.to_csv(tmp_path / "d.csv")
    title, meta = _csv_comments(tmp_path / "d.csv")
    assert "degradation" in title and meta["numpy"] == versions()["numpy"]
    assert meta["tau"] == repr(res.tau) and meta["all_certified"] == str(res.all_certified)
    table = _csv_table(tmp_path / "d.csv")
    assert len(table) == len(rows)
    for r, cells in zip(rows, table):
        assert float(cells["mean_classifier_loss"]) == r["mean_classifier_loss"]  # exact
        assert cells["name"] == r["name"] and cells["weighting"] == r["weighting"]
    res.to_json(tmp_path / "d.json")
    doc = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))
    assert doc["format"] == "latentclass-degradation-search" and doc["versions"] == versions()
    assert doc["columns"] == list(DEGRADATION_COLUMNS) and len(doc["rows"]) == len(rows)
    assert doc["rows"][0]["mean_classifier_loss"] == rows[0]["mean_classifier_loss"]
    assert doc["ks"][-1] == ("inf" if res.ks[-1] == math.inf else res.ks[-1])


def test_search_degradation_finds_a_planted_rise(monkeypatch):
    """The search reports exactly the rise of a made-up curve (solver replaced by a stub)."""

    curves = {  # class_probs[0] -> downstream loss at k = 1, 2, 4, 8
        0.5: [0.9, 0.8, 0.7, 0.6],  # decreasing: rise -0.1
        0.6: [0.9, 0.7, 0.75, 0.74],  # bump of 0.05 from k=2 to k=4
        0.7: [0.5, 0.5, 0.5, 0.5],  # flat: rise 0
    }
    ks = (1, 2, 4, 8)

    def stub(class_probs, k, tau, weightings, *start):
        v = curves[round(class_probs[0], 6)][ks.index(k)]
        return {
            "contrastive_loss": 1.0,
            "duality_gap": 0.0,
            "certified": True,
            **dict.fromkeys(weightings, (v, 1.0)),
        }

    monkeypatch.setattr(degradation, "_degradation_point", stub)
    fams = {"a": [0.5, 0.5], "b": [0.6, 0.4], "c": [0.7, 0.3]}
    res = search_degradation(fams, [8, 4, 2, 1], n_random=0, weighting="balanced", top=3)
    assert [c.name for c in res.worst["balanced"]] == ["b", "c", "a"]
    b = res.worst["balanced"][0]
    assert b.rise == pytest.approx(0.05) and (b.rise_from, b.rise_to) == (2, 4)
    assert res.worst["balanced"][1].rise == 0.0
    assert res.worst["balanced"][2].rise == pytest.approx(-0.1)
    assert res.max_rise == {"balanced": b.rise}
    assert [c.resolution for c in res.worst["balanced"]] == [
        0.0,
        0.0,
        0.0,
    ]  # the stub ignores the start
    assert [c.significant for c in res.worst["balanced"]] == [True, False, False]
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        par = search_degradation(fams, ks, n_random=0, weighting="balanced", executor=ex)
    assert [(c.name, c.rise) for c in par.cases] == [(c.name, c.rise) for c in res.cases]


def test_search_degradation_bad_input():
    with pytest.raises(ValueError, match="weighting"):
        search_degradation(["uniform:3"], (1, 2), n_random=0, weighting="uniform")
    with pytest.raises(ValueError, match="weighting"):
        search_degradation(["uniform:3"], (1, 2), n_random=0, weighting=())
    with pytest.raises(ValueError, match="at least 2"):
        search_degradation(["uniform:3"], (1,), n_random=0)
    with pytest.raises(ValueError, match="ks must be a non-empty"):
        search_degradation(["uniform:3"], (), n_random=0)
    with pytest.raises(ValueError, match="top"):
        search_degradation(["uniform:3"], (1, 2), n_random=0, top=0)
    with pytest.raises(ValueError, match="families"):
        search_degradation(["zipf:x"], (1, 2), n_random=0)
    with pytest.raises(ValueError, match="nothing to search"):
        search_degradation([], (1, 2), n_random=0)
    with pytest.raises(ValueError, match="n_random"):
        search_degradation(["uniform:3"], (1, 2), n_random=-1)
    with pytest.raises(ValueError, match="min_class_prob"):
        search_degradation([], (1, 2), n_random=1, random_classes=(4,), min_class_prob=0.3)


# ----------------------------------------------------------------------------- CLI
def test_cli_sweep_writes_csv_and_json(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert (
        main(
            ["sweep", "--class-probs", "0.5,0.3,0.2", "--negatives", "1,3,6,inf", "--out", str(out)]
        )
        == 0
    )
    assert "wrote 4 rows" in capsys.readouterr().out
    table = _csv_table(out)
    model = LatentClassModel.one_point_per_class(RHO)
    ref = sweep_negatives(model, KS, progress=False)
    assert [float(r["k"]) for r in table] == [float(k) for k in KS]
    assert [r["loss"] for r in table][-1] == "" and ref.rows[-1]["loss"] is None
    assert [float(r["loss"]) for r in table[:-1]] == [r["loss"] for r in ref.rows[:-1]]
    assert float(table[-1]["loss_limit"]) == ref.rows[-1]["loss_limit"]
    js = tmp_path / "s.json"
    ck = tmp_path / "ck.jsonl"
    assert (
        main(
            [
                "sweep",
                "--class-probs",
                "zipf:3:1",
                "--negatives",
                "1..3",
                "--tau",
                "0.5",
                "--out",
                str(js),
                "--checkpoint",
                str(ck),
                "--workers",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    data = json.loads(js.read_text(encoding="utf-8"))["rows"]
    assert [d["k"] for d in data] == [1, 2, 3]
    assert len(_row_lines(ck)) == 3
    capsys.readouterr()
    assert main(["sweep", "--class-probs", "uniform:3", "--negatives", "2"]) == 0
    lines = [ln for ln in capsys.readouterr().out.strip().splitlines() if not ln.startswith("#")]
    assert lines[0].split(",") == list(SWEEP_COLUMNS) and len(lines) == 2


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--class-probs", "zipf:x", "--negatives", "1"], "--class-probs"),
        (["--class-probs", "0.5,0.6", "--negatives", "1"], "--class-probs"),
        (["--class-probs", "uniform:3", "--negatives", "0"], "--negatives"),
        (["--class-probs", "uniform:3", "--negatives", "1.5"], "--negatives"),
        (["--class-probs", "uniform:3", "--negatives", "1,1"], "--negatives"),
        (["--class-probs", "uniform:3", "--negatives", ""], "--negatives"),
        (["--class-probs", "uniform:3", "--negatives", "1", "--out", "x.txt"], "--out"),
        (["--class-probs", "uniform:3", "--negatives", "1", "--workers", "0"], "--workers"),
        (["--class-probs", "uniform:3", "--negatives", "1", "--tau", "-1"], "--tau"),
        (
            ["--class-probs", "uniform:3", "--negatives", "1", "--checkpoint", "/no/such/dir/ck"],
            "--checkpoint",
        ),
    ],
)
def test_cli_sweep_bad_input_is_one_line_exit_2(argv, match, capsys):
    assert main(["sweep", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0] and err[0].startswith("latentclass sweep: error:")


def test_search_dirichlet_draws_are_seeded_and_floored(monkeypatch):
    def stub(class_probs, k, tau, weightings, *start):
        return {
            "contrastive_loss": 1.0,
            "duality_gap": 0.0,
            "certified": True,
            **dict.fromkeys(weightings, (1.0 / k, 1.0)),
        }

    monkeypatch.setattr(degradation, "_degradation_point", stub)
    kw = dict(n_random=30, random_classes=(6,), random_alpha=(0.1,), min_class_prob=1e-3, rng=11)
    a = search_degradation([], (1, 2), **kw)
    b = search_degradation([], (1, 2), **kw)
    assert a.n_distributions == 30
    assert all(c.class_probs.min() >= 1e-3 for c in a.cases)
    assert [c.class_probs.tobytes() for c in a.cases] == [c.class_probs.tobytes() for c in b.cases]
    assert len({c.name for c in a.cases if c.weighting == "balanced"}) == 30


def test_finding_rho_weighted_downstream_loss_rises_with_k():
    """Counterexample to the non-uniform conjecture (SPEC §5) found by search_degradation.

    ρ = (0.9, 1/30, 1/30, 1/30), τ = 1: the ρ-weighted mean-classifier loss of the certified
    optimum is larger at k = ∞ than at k = 2, by far more than the solvers' disagreement;
    both end points are recomputed with CVXPY + Clarabel (independent of the optimiser).
    """
    from latentclass.conic import conic_optimum
    from latentclass.families import dominant

    rho = dominant(4, 0.9)
    M = LatentClassModel.one_point_per_class(rho)
    values = {}
    for k in (2, math.inf):
        opt = optimal_representation(M, k, rng=0)
        assert opt.certified
        G = np.asarray(opt.gram)
        values[k] = float(rho @ (logsumexp(G, axis=1) - np.diag(G)))
        Gc = conic_optimum(M, k).gram
        assert float(rho @ (logsumexp(Gc, axis=1) - np.diag(Gc))) == pytest.approx(
            values[k], abs=5e-6
        )
    assert values[math.inf] - values[2] > 4e-3
