"""lc.diagnose (SPEC §10): neural-collapse measures with known answers, agreement with
lc.structure and lc.mean_classifier_metrics, invariances, files and one-line CLI errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from oracles import neural_collapse_oracle, simplex_gram, simplex_vertices

import latentclass as lc
from latentclass.cli import main
from latentclass.diagnose import class_mean_classifier, read_array


def _rotation(d: int, rng) -> np.ndarray:
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def _simplex_embeddings(C: int, counts, d: int, rng):
    """Class c at vertex c of the regular simplex, embedded in R^d by a random rotation."""
    V = simplex_vertices(C)  # rows in R^C, orthogonal to 1
    Q = _rotation(max(d, C), rng)[:C, :d] if d >= C else None
    if Q is None:
        raise ValueError("d >= C")
    y = np.repeat(np.arange(C), counts)
    return (V @ Q)[y], y


def test_exact_simplex_has_nc1_and_nc2_zero_and_the_closed_form_loss():
    rng = np.random.default_rng(0)
    C, tau = 6, 0.5
    X, y = _simplex_embeddings(C, [5, 9, 3, 7, 4, 6], 10, rng)
    D = lc.diagnose(X, y, tau=tau)
    assert D.nc1 <= 1e-24 and D.nc2 <= 1e-14 and D.simplex_error <= 1e-14
    assert D.equinorm <= 1e-14 and D.equiangularity <= 1e-14 and D.max_angle <= 1e-14
    assert D.mean_classifier_accuracy == 1.0 and D.balanced_accuracy == 1.0
    q = math.exp(-C / ((C - 1) * tau))  # SPEC §6.3
    assert abs(D.mean_classifier_loss - math.log1p((C - 1) * q)) <= 1e-13
    assert abs(D.balanced_loss - math.log1p((C - 1) * q)) <= 1e-13
    assert np.allclose(D.class_gram, simplex_gram(C), atol=1e-14)
    assert abs(D.effective_rank - (C - 1)) <= 1e-10  # C−1 equal eigenvalues
    assert D.min_angle == pytest.approx(math.degrees(math.acos(-1 / (C - 1))), abs=1e-6)
    assert np.array_equal(D.counts, [5, 9, 3, 7, 4, 6])
    assert np.allclose(D.class_probs, np.array([5, 9, 3, 7, 4, 6]) / 34, rtol=0, atol=1e-16)


def test_noisy_simplex_nc1_matches_its_closed_form_within_sampling_error():
    """x = v_c + σ z in R^{C−1}: Σ_W → σ² I, Σ_B → I/(C−1), NC1 → σ²(C−1)²/C.

    Exact finite-sample expectations (Gaussian: within-class residuals independent of the
    means): E Σ_W = σ²(1 − C/N) I, E Σ̂_B = (1/(C−1) + σ²(C−1)/(C n)) I; the prediction
    (1/C) σ²(1 − C/N) d / (1/(C−1) + σ²(C−1)/(C n)) neglects only the O((σ²/n)²) Jensen term.
    """
    C, n, sigma, reps = 4, 300, 0.4, 30
    d = C - 1
    V = lc.simplex(C)
    y = np.repeat(np.arange(C), n)
    N = C * n
    gen = np.random.default_rng(12)
    vals = []
    for _ in range(reps):
        X = V[y] + sigma * gen.standard_normal((N, d))
        vals.append(lc.diagnose(X, y, normalize="none").nc1)
    vals = np.array(vals)
    predicted = (sigma**2 * (1 - C / N) * d / (1 / (C - 1) + sigma**2 * (C - 1) / (C * n))) / C
    se = vals.std(ddof=1) / math.sqrt(reps)
    assert abs(vals.mean() - predicted) <= 5 * se
    assert abs(predicted - sigma**2 * (C - 1) ** 2 / C) <= 0.01 * predicted  # the limit form


def test_nc1_nc2_agree_with_the_loop_oracle_on_random_unbalanced_data():
    rng = np.random.default_rng(3)
    for C, d in ((3, 2), (5, 8), (4, 3)):
        counts = rng.integers(2, 12, size=C)
        y = rng.permutation(np.repeat(np.arange(C), counts))
        X = rng.standard_normal((C, d))[y] + 0.7 * rng.standard_normal((y.size, d))
        D = lc.diagnose(X, y, normalize="none", tau=1.3)
        ref = neural_collapse_oracle(X, y)
        assert D.nc1 == pytest.approx(ref["nc1"], rel=1e-9)
        assert D.nc2 == pytest.approx(ref["nc2"], rel=1e-9, abs=1e-12)
        assert np.allclose(D.class_means, ref["means"], atol=1e-13)


def test_invariances_rotation_scale_relabelling_and_order():
    rng = np.random.default_rng(4)
    C, d = 5, 7
    counts = [6, 4, 9, 5, 3]
    y = np.repeat(np.arange(C), counts)
    X = rng.standard_normal((C, d))[y] + 0.5 * rng.standard_normal((y.size, d))
    base = lc.diagnose(X, y, tau=0.7)
    Q = _rotation(d, rng)
    names = np.array(["ant", "bee", "cat", "dog", "eel"])
    perm = rng.permutation(y.size)
    for Xt, yt in ((X @ Q, y), (3.5 * X, y), (X[perm], y[perm]), (X, names[y])):
        D = lc.diagnose(Xt, yt, tau=0.7)
        for name in (
            "nc1",
            "nc2",
            "simplex_error",
            "equinorm",
            "equiangularity",
            "mean_classifier_accuracy",
            "mean_classifier_loss",
            "balanced_loss",
            "effective_rank",
            "embedding_effective_rank",
        ):
            assert getattr(D, name) == pytest.approx(getattr(base, name), rel=1e-9, abs=1e-12)
    # NC1 and NC2 are scale invariant even without normalisation; the loss is not
    a, b = (
        lc.diagnose(X, y, normalize="none", tau=1.0),
        lc.diagnose(2 * X, y, normalize="none", tau=1.0),
    )
    assert a.nc1 == pytest.approx(b.nc1, rel=1e-9) and a.nc2 == pytest.approx(b.nc2, rel=1e-9)
    assert a.mean_classifier_loss != pytest.approx(b.mean_classifier_loss, rel=1e-3)
    assert list(lc.diagnose(X, names[y]).classes) == list(names)


def test_collapsed_but_not_a_simplex():
    """Every class on one orthonormal basis vector: NC1 = 0, Papyan's NC2 = 0 (centred,
    e_c − 1/C is a simplex) but the theory's simplex error is exactly 1/(C−1)."""
    C = 4
    y = np.repeat(np.arange(C), [3, 5, 2, 4])
    X = np.eye(C)[y]
    D = lc.diagnose(X, y, tau=1.0)
    assert D.nc1 <= 1e-24 and D.nc2 <= 1e-14
    assert D.simplex_error == pytest.approx(1 / (C - 1), abs=1e-15)
    assert np.allclose(D.class_gram, np.eye(C))
    # three unit vectors at 0°, 90°, 180° in the plane: collapsed, not equiangular
    y3 = np.repeat(np.arange(3), 4)
    X3 = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])[y3]
    D3 = lc.diagnose(X3, y3)
    ref = neural_collapse_oracle(X3, y3)
    assert D3.nc1 <= 1e-24 and D3.nc2 == pytest.approx(ref["nc2"], rel=1e-12) and D3.nc2 > 0.1
    # centred means (1,-1/3), (0,2/3), (-1,-1/3): cosines -1/(sqrt(10)/... ) by hand
    a, b, c = np.array([1, -1 / 3]), np.array([0, 2 / 3]), np.array([-1, -1 / 3])
    cab = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    cac = a @ c / (np.linalg.norm(a) ** 2)
    hand = math.sqrt(2 * (cab + 0.5) ** 2 * 2 + 2 * (cac + 0.5) ** 2) / math.sqrt(3 + 6 * 0.25)
    assert D3.nc2 == pytest.approx(hand, rel=1e-12)
    assert D3.simplex_error == pytest.approx(1.0 - 0.5, abs=1e-15)  # 90° pair: 0 vs −1/2


def test_mean_classifier_agrees_with_downstream_on_the_equivalent_disjoint_model():
    rng = np.random.default_rng(5)
    C, d = 4, 5
    counts = np.array([3, 6, 2, 5])
    y = np.repeat(np.arange(C), counts)
    X = rng.standard_normal((C, d))[y] + 0.9 * rng.standard_normal((y.size, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    model = lc.LatentClassModel.disjoint(counts / counts.sum(), list(counts))
    D = lc.diagnose(X, y, tau=0.4)
    for w, loss, acc in (
        ("class_probs", D.mean_classifier_loss, D.mean_classifier_accuracy),
        ("balanced", D.balanced_loss, D.balanced_accuracy),
    ):
        ref = lc.mean_classifier_metrics(model, X, 0.4, weighting=w)
        assert loss == pytest.approx(ref.loss, rel=1e-12)
        assert acc == pytest.approx(ref.accuracy, rel=1e-12)
    # the held-out form with given means
    loss, acc = class_mean_classifier(X, y, D.class_means, tau=0.4)
    assert loss == pytest.approx(D.mean_classifier_loss, rel=1e-12)
    assert acc == pytest.approx(D.mean_classifier_accuracy, rel=1e-12)


def test_certified_point_level_optimum_agrees_with_structure_and_with_the_optimum():
    rho = [0.5, 0.3, 0.2]
    model = lc.LatentClassModel.disjoint(rho, [5, 3, 2])  # every point has mass 0.1
    tau, k = 1.0, 4
    opt = lc.optimal_representation(model, k=k, tau=tau)
    assert opt.certified
    S = lc.structure(model, opt.F)
    D = lc.diagnose(opt.F, model.point_classes, tau=tau, k=k, normalize="none")
    assert np.allclose(D.class_probs, rho, atol=1e-15)
    assert np.allclose(D.class_gram, S.class_gram, atol=1e-9)
    assert D.simplex_error == pytest.approx(S.simplex_error, abs=1e-6)
    assert D.effective_rank == pytest.approx(S.effective_rank, abs=1e-6)
    assert D.min_angle == pytest.approx(S.min_angle, abs=1e-4)
    assert D.max_angle_deg == pytest.approx(S.max_angle, abs=1e-4)
    assert S.is_collapsed(1e-5) and D.nc1 <= 1e-9
    # the diagnosis's own optimum (class level, ρ̂ = ρ) is the same Gram matrix
    assert D.optimum is not None and D.optimum.certified
    assert D.optimum_gram_error <= 1e-5
    cls = lc.optimal_representation(lc.LatentClassModel.one_point_per_class(rho), k=k, tau=tau)
    assert D.optimum.loss == pytest.approx(cls.loss, abs=1e-9)
    assert D.optimum_mean_classifier_loss == pytest.approx(
        lc.mean_classifier_loss(model, opt.F, tau), abs=1e-6
    )


def test_zero_mean_class_and_identical_means_give_no_nan():
    y = np.repeat([0, 1], 3)
    X = np.array([[1.0, 0], [-1, 0], [1, 0], [0, 1], [0, -1], [0, 1]])  # class 0 mean (1/3, 0)
    D = lc.diagnose(X, y, tau=1.0)
    assert all(math.isfinite(v) for v in (D.nc1, D.nc2, D.simplex_error))
    same = np.array([[1.0, 0], [-1, 0], [1, 0], [-1, 0]])  # both classes have mean 0
    D2 = lc.diagnose(same, [0, 0, 1, 1], tau=1.0)
    assert D2.nc1 == math.inf and math.isfinite(D2.nc2) and D2.mean_classifier_accuracy == 0.0
    assert json.loads(json.dumps(D2.to_dict(), allow_nan=False))["nc1"] == "inf"


def test_input_is_not_modified_and_float32_is_accepted():
    rng = np.random.default_rng(6)
    y = np.repeat(np.arange(3), 5)
    X = rng.standard_normal((15, 4)).astype(np.float32)
    keep = X.copy()
    D = lc.diagnose(X, y)
    assert np.array_equal(X, keep)
    D64 = lc.diagnose(X.astype(float), y)
    assert D.nc1 == D64.nc1


@pytest.mark.parametrize(
    ("emb", "labels", "kwargs", "match"),
    [
        (np.ones((4, 2)), [0, 0, 1], {}, "one entry per embedding"),
        (np.array([[1.0, np.nan], [1, 0], [0, 1], [0, 2]]), [0, 0, 1, 1], {}, "finite"),
        (np.array([[1.0, np.inf], [1, 0], [0, 1], [0, 2]]), [0, 0, 1, 1], {}, "finite"),
        (np.eye(3), [0, 0, 1], {}, "at least two samples"),
        (np.eye(3), [0, 0, 0], {}, "at least two classes"),
        (np.ones(3), [0, 0, 1], {}, "2-D"),
        (np.eye(4), [0.5, 0, 1, 1], {}, "whole"),
        (np.eye(4), [np.nan, 0, 1, 1], {}, "finite"),
        (np.eye(4), [0, 0, 1, 1], {"normalize": "cosine"}, "normalize"),
        (np.eye(4), [0, 0, 1, 1], {"k": 4}, "k needs tau"),
        (np.eye(4), [0, 0, 1, 1], {"tau": 0.0}, "tau"),
        (np.eye(4), [0, 0, 1, 1], {"tau": 1.0, "k": 0}, "k"),
        (np.zeros((4, 2)), [0, 0, 1, 1], {}, "norm 0"),
        (np.full((4, 2), 1e200), [0, 0, 1, 1], {}, "magnitude"),
    ],
)
def test_bad_arrays_raise_errors_naming_the_argument(emb, labels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lc.diagnose(emb, labels, **kwargs)


def test_bad_types():
    with pytest.raises(TypeError, match="embeddings"):
        lc.diagnose(np.array([["a", "b"], ["c", "d"]]), [0, 1])
    with pytest.raises(TypeError, match="real"):
        lc.diagnose(np.eye(4) * 1j, [0, 0, 1, 1])


def test_repr_and_json():
    X, y = np.eye(4)[[0, 0, 1, 1, 2, 2, 3, 3]], np.repeat(np.arange(4), 2)
    D = lc.diagnose(X, y, tau=0.5, k=3)
    text = repr(D)
    assert text.startswith("Diagnosis(N=8, d=4, C=4") and "certified=True" in text
    doc = json.loads(json.dumps(D.to_dict(), allow_nan=False))
    assert doc["optimum"]["certified"] is True and doc["k"] == 3
    with pytest.raises(AttributeError):
        D.nc1 = 0.0  # frozen


# ----------------------------------------------------------------------------- files and CLI
@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(7)
    y = np.repeat(np.arange(3), 6)
    X = lc.simplex(3)[y] + 0.05 * rng.standard_normal((18, 2))
    paths = {}
    np.save(tmp_path / "emb.npy", X)
    np.save(tmp_path / "lab.npy", y)
    np.savez(tmp_path / "both.npz", emb=X, lab=y)
    np.savez(tmp_path / "one.npz", X)
    np.savetxt(tmp_path / "emb.csv", X, delimiter=",", header="a,b", comments="")
    (tmp_path / "lab.csv").write_text("\n".join(f"c{v}" for v in y) + "\n")  # strings
    (tmp_path / "labi.csv").write_text("label\n" + "\n".join(str(v) for v in y) + "\n")
    np.save(tmp_path / "obj.npy", np.array([1, "a", None], dtype=object), allow_pickle=True)
    (tmp_path / "bad.csv").write_text("1,2\n3,x\n")
    for name in (
        "emb.npy",
        "lab.npy",
        "both.npz",
        "one.npz",
        "emb.csv",
        "lab.csv",
        "obj.npy",
        "bad.csv",
        "labi.csv",
    ):
        paths[name] = str(tmp_path / name)
    return X, y, paths


def test_read_array_formats(files):
    X, y, p = files
    assert np.array_equal(read_array(p["emb.npy"]), X)
    assert np.array_equal(read_array(p["one.npz"]), X)
    assert np.array_equal(read_array(p["both.npz"] + ":lab"), y)
    assert np.allclose(read_array(p["emb.csv"]), X, atol=1e-15)
    labels = read_array(p["lab.csv"], text=True)
    assert list(labels[:2]) == ["c0", "c0"] and labels.size == 18
    assert np.array_equal(read_array(p["labi.csv"], text=True), y)  # header over numbers
    with pytest.raises(ValueError, match="pickled"):
        read_array(p["obj.npy"], "EMB")
    with pytest.raises(ValueError, match="holds 2 arrays"):
        read_array(p["both.npz"], "EMB")
    with pytest.raises(ValueError, match="no array 'zz'"):
        read_array(p["both.npz"] + ":zz", "EMB")
    with pytest.raises(ValueError, match="not a CSV table of numbers"):
        read_array(p["bad.csv"], "EMB")


def test_cli_diagnose_json(files, tmp_path, capsys):
    X, y, p = files
    out = tmp_path / "d.json"
    assert (
        main(["diagnose", p["emb.csv"], p["lab.csv"], "--tau", "0.5", "-k", "8", "--out", str(out)])
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    ref = lc.diagnose(X, y, tau=0.5, k=8)
    assert doc["nc1"] == pytest.approx(ref.nc1, rel=1e-9)
    assert doc["optimum"]["certified"] is True and doc["classes"] == ["c0", "c1", "c2"]
    assert json.loads(out.read_text())["nc2"] == doc["nc2"]
    assert "versions" in doc


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["obj.npy", "lab.npy"], "pickled"),
        (["emb.npy", "missing.npy"], "no such file"),
        (["emb.npy", "emb.npy"], "LABELS must be 1-D"),
        (["emb.npy", "lab.npy", "-k", "3"], "--negatives needs --tau"),
        (["emb.npy", "lab.npy", "--tau", "-1"], "--tau"),
        (["emb.npy", "lab.npy", "--tau", "1", "-k", "0"], "--negatives"),
        (["emb.txt", "lab.npy"], "must end in"),
        (["bad.csv", "lab.npy"], "not a CSV"),
        (["emb.npy", "lab.npy", "--out", "out.txt"], "--out must end in .json"),
    ],
)
def test_cli_diagnose_errors_are_one_line_exit_2(files, tmp_path, capsys, args, match):
    _, _, p = files
    argv = ["diagnose"] + [
        p.get(a, str(tmp_path / a)) if not a.startswith("-") and "." in a else a for a in args
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("latentclass diagnose: error:")
    assert match in err


def test_cli_mismatched_lengths(tmp_path, capsys):
    np.save(tmp_path / "e.npy", np.eye(4))
    np.save(tmp_path / "l.npy", np.array([0, 0, 1]))
    assert main(["diagnose", str(tmp_path / "e.npy"), str(tmp_path / "l.npy")]) == 2
    assert "LABELS must have one entry per embedding" in capsys.readouterr().err
