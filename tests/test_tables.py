"""to_pandas() of the tabular results: a sweep round-trips (values, dtypes, k = inf kept,
None never NaN), and agrees with what pandas reads back from to_csv / to_json."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

import latentclass as lc

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def sweep():
    model = lc.LatentClassModel.one_point_per_class(lc.parse_class_probs("zipf:4:1.0"))
    return lc.sweep_negatives(model, [1, 3, 64, math.inf], tau=1.0)


def _same(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return float(a) == float(b)  # exact: inf == inf
    return a == b


def test_sweep_to_pandas_round_trips_rows_dtypes_and_inf(sweep):
    df = sweep.to_pandas()
    assert list(df.columns) == list(sweep.columns)
    assert len(df) == len(sweep.rows)
    assert str(df["k"].dtype) == "Float64" and df["k"].iloc[-1] == math.inf
    assert list(df["k"]) == [1.0, 3.0, 64.0, math.inf]
    assert str(df["certified"].dtype) == "boolean" and bool(df["certified"].all())
    assert str(df["n_iter"].dtype) == "Int64"
    assert str(df["method"].dtype) == "string"
    for c in sweep.columns:
        if c not in ("certified", "method", "n_iter"):
            assert str(df[c].dtype) == "Float64", c
    # never NaN: an undefined cell is pd.NA, a vacuous bound inf
    assert not any(np.isnan(x) for x in df.select_dtypes("Float64").to_numpy(na_value=0.0).ravel())
    assert df["loss"].isna().tolist() == [False, False, False, True]  # L_k undefined at k = inf
    assert df["loss_limit"].isna().tolist() == [True, True, True, False]
    # back to rows: every value equal to the sweep's (None <-> NA)
    back = [
        {c: (None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)) for c, v in r.items()}
        for r in df.astype(object).to_dict("records")
    ]
    for row, got in zip(sweep.rows, back):
        for c in sweep.columns:
            assert _same(row[c], got[c]), (c, row[c], got[c])
    assert df.attrs["model_fingerprint"] == sweep.model_fingerprint
    assert df.attrs["tau"] == 1.0 and df.attrs["latentclass"] == lc.__version__


def test_sweep_to_pandas_agrees_with_the_csv_and_json_files(sweep):
    df = sweep.to_pandas()
    buf = io.StringIO()
    sweep.to_csv(buf)
    # pandas < 3: ask for round-trip parsing; pandas 3 parses exactly by default (and
    # deprecates the argument)
    exact = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
    csv = pd.read_csv(io.StringIO(buf.getvalue()), comment="#", **exact)
    assert list(csv.columns) == list(df.columns)
    for c in df.columns:
        ours = df[c].astype(object).where(df[c].notna(), None).tolist()
        theirs = csv[c].astype(object).where(csv[c].notna(), None).tolist()
        for a, b in zip(ours, theirs):
            assert _same(a, b if not isinstance(b, np.generic) else b.item()), (c, a, b)
    buf = io.StringIO()
    sweep.to_json(buf)
    rows = json.loads(buf.getvalue())["rows"]
    assert [float(r["k"]) for r in rows] == list(df["k"])  # "inf" reads back as inf


def test_degradation_search_to_pandas():
    res = lc.search_degradation(
        families=["zipf:3:1.0"], ks=[1, 2, math.inf], n_random=1, random_classes=(3,)
    )
    df = res.to_pandas()
    rows = res.rows()
    assert len(df) == len(rows) and list(df["k"])[-1] == math.inf
    assert str(df["k"].dtype) == "Float64" and str(df["certified"].dtype) == "boolean"
    assert str(df["name"].dtype) == "string"
    for i, row in enumerate(rows):
        for c, v in row.items():
            got = df[c].iloc[i]
            got = None if pd.isna(got) else got
            assert _same(v, got.item() if hasattr(got, "item") else got), (c, v, got)


def _html_fields(text):
    import re

    return dict(
        re.findall(
            r"<th style='text-align:left'>(.*?)</th><td style='text-align:left'>(.*?)</td>", text
        )
    )


def test_repr_html_of_the_result_objects_shows_their_values():
    model = lc.LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
    opt = lc.optimal_representation(model, 4, method="numerical")
    f = _html_fields(opt._repr_html_())
    assert float(f["loss"]) == pytest.approx(opt.loss, rel=1e-9)
    assert float(f["duality_gap"]) == pytest.approx(opt.duality_gap, rel=1e-9)
    assert f["certified"] == str(opt.certified) and f["solver"] == opt.solver
    rep = lc.structure(model, opt.F)
    f = _html_fields(rep._repr_html_())
    assert float(f["simplex_error"]) == pytest.approx(rep.simplex_error, rel=1e-9, abs=1e-300)
    cert = lc.certify(lc.NCEObjective(model, 4), opt.gram)
    f = _html_fields(cert._repr_html_())
    assert f["certified"] == str(cert.certified) and float(f["gap"]) == pytest.approx(cert.gap)
    down = lc.mean_classifier_metrics(model, opt.F)
    f = _html_fields(down._repr_html_())
    assert float(f["loss"]) == pytest.approx(down.loss, rel=1e-9)
    est = lc.nce_loss(opt.F, model.sample(1000, 4, rng=0))
    f = _html_fields(est._repr_html_())
    assert float(f["mean"]) == pytest.approx(est.mean, rel=1e-9) and f["n"] == "1000"
    # text is escaped, infinity is written as such
    from latentclass._tables import html_table

    t = html_table("<x>", [("a&b", math.inf), ("c", "<script>")])
    assert "&lt;x&gt;" in t and "a&amp;b" in t and "∞" in t and "<script>" not in t


def test_training_experiment_to_pandas():
    exp = lc.run_training_experiment(ks=(1, 4), quick=True, steps=20, heldout_size=500)
    df = exp.to_pandas()
    assert len(df) == len(exp.rows)
    assert str(df["k"].dtype) == "Int64" and str(df["model"].dtype) == "string"
    assert str(df["gap"].dtype) == "Float64" and str(df["optimum_certified"].dtype) == "boolean"
    for i, row in enumerate(exp.rows):
        for c, v in row.as_dict().items():
            got = df[c].iloc[i]
            got = None if pd.isna(got) else got
            v = v.item() if isinstance(v, np.generic) else v
            assert _same(v, got.item() if hasattr(got, "item") else got), (c, v, got)
    assert df.attrs["tau"] == exp.tau
