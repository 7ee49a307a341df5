"""One progress convention (latentclass._progress): every ``progress=`` callable receives one
frozen ``Progress(done, total, stage, detail)`` per unit of work — figures, sweeps, searches,
training."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest

from latentclass import LatentClassModel, train
from latentclass._progress import Progress, Reporter, check_progress
from latentclass.experiments import search_degradation, sweep_negatives
from latentclass.figures import make_figures

M = LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])


def test_progress_is_a_frozen_dataclass_with_a_readable_repr():
    p = Progress(1, 2, "sweep over k", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.done = 3  # type: ignore[misc]
    assert repr(p) == "Progress(done=1, total=2, stage='sweep over k', detail=None)"


@pytest.mark.parametrize("bad", [3, "yes", 1.5])
def test_one_message_for_a_bad_progress(bad):
    with pytest.raises(
        TypeError, match=r"^progress must be None, a bool or a callable\(Progress\)"
    ):
        check_progress(bad)
    for call in (
        lambda: sweep_negatives(M, [1], progress=bad),
        lambda: train(M, 1, steps=1, progress=bad, optimum=None),
    ):
        with pytest.raises(TypeError, match=r"callable\(Progress\)"):
            call()


def test_sweep_calls_back_once_per_new_row_with_the_row():
    seen = []
    res = sweep_negatives(M, [1, 4], progress=seen.append)
    assert [(p.done, p.total, p.stage) for p in seen] == [
        (1, 2, "sweep over k"),
        (2, 2, "sweep over k"),
    ]
    assert [p.detail for p in seen] == list(res.rows)


def test_search_calls_back_once_per_point():
    seen = []
    search_degradation(families=["zipf:3:1.5"], ks=(1, 2), n_random=0, top=1, progress=seen.append)
    assert [(p.done, p.total, p.stage, p.detail) for p in seen] == [
        (1, 2, "degradation search", None),
        (2, 2, "degradation search", None),
    ]


def test_training_calls_back_every_step_with_the_batch_loss():
    seen = []
    r = train(M, 2, steps=7, eval_every=7, batch_size=16, rng=0, optimum=None, progress=seen.append)
    assert [(p.done, p.total, p.stage) for p in seen] == [(i, 7, "train") for i in range(1, 8)]
    # the recorded batch loss is the mean of the 7 losses the callback saw
    assert r.history.batch_loss[-1] == pytest.approx(np.mean([p.detail for p in seen]), rel=1e-15)


def test_figures_call_back_once_per_figure_with_its_record(tmp_path):
    seen = []
    records = make_figures(tmp_path, quick=True, only="symbolic_certificates", progress=seen.append)
    assert [(p.done, p.total, p.stage) for p in seen] == [(1, 1, "figures")]
    assert seen[0].detail is records[0]


def test_reporter_bar_and_silence(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    bar = Reporter(True, 3, "demo", unit="fig")
    for _ in range(3):
        bar.update()
    bar.close()
    assert "demo" in err.getvalue() and "3/3" in err.getvalue()
    err.truncate(0)
    for quiet in (False, np.bool_(False), None):  # None without a default delay: silent
        r = Reporter(quiet, 3, "demo")
        r.update()
        r.close()
    assert err.getvalue().strip("\x00") == ""
    calls = []
    r = Reporter(calls.append, 3, "demo", pending=0)  # nothing to compute: silent
    r.update()
    assert calls == []
