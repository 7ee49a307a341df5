"""Command line: ``latentclass figures | sweep | solve | check | train``.

Each subcommand has an ``_add_<name>(subparsers)`` that declares its arguments and a
``_run_<name>(args) -> int`` that does the work and returns the exit status.  User
errors (``ValueError``/``TypeError`` from the library, bad arguments) print one line
``latentclass: error: ...`` to stderr and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["UserError", "build_parser", "main"]


class UserError(Exception):
    """An error in what the user asked for: reported in one line, exit status 2."""


def _probe_writable_dir(directory: str, option: str) -> None:
    """Create and delete a file in ``directory``: the only test of writability that also
    holds for root and read-only file systems (``os.access`` says yes to root)."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".latentclass-probe-"):
            pass
    except OSError as exc:
        raise UserError(f"{option}: cannot write in {directory!r} ({exc.strerror})") from None


def _check_output_file(path: str | None, option: str, suffixes: tuple[str, ...] = ()) -> None:
    """Before any computation: ``path`` names a file (new or existing, not a directory) in an
    existing, writable directory, with one of ``suffixes`` if given."""
    import os

    if path is None:
        return
    if not path:
        raise UserError(f"{option} must be a non-empty path")
    if os.path.isdir(path):
        raise UserError(f"{option}: {path!r} is a directory, expected a file")
    if suffixes and os.path.splitext(path)[1].lower() not in suffixes:
        raise UserError(f"{option} must end in {' or '.join(suffixes)}, got {path!r}")
    if os.path.exists(path) and not os.path.isfile(path):
        raise UserError(f"{option}: {path!r} exists and is not a regular file")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UserError(f"{option}: the directory of {path!r} does not exist")
    _probe_writable_dir(parent, option)
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UserError(f"{option}: {path!r} is not writable")


def _check_output_dir(path: str, option: str) -> None:
    """Before any computation: ``path`` is a writable directory or can be created as one."""
    import os

    if not path:
        raise UserError(f"{option} must be a non-empty path")
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"{option}: {path!r} exists and is not a directory")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{option}: cannot create directory {path!r} ({exc.strerror})") from None
    _probe_writable_dir(path, option)


def _stderr_is_terminal() -> bool:
    return bool(sys.stderr is not None and getattr(sys.stderr, "isatty", lambda: False)())


#: ``latentclass solve`` says on a terminal that it started when the problem has this many
#: points or more (such solves take from seconds to minutes).
_SOLVE_NOTICE_POINTS = 200


def _parse_k(text: str, option: str) -> int | float:
    """``--negatives K``: the one parser of ``k`` (:func:`latentclass.experiments.parse_k`)."""
    from .experiments.sweep import parse_k

    try:
        return parse_k(text, option)
    except ValueError as exc:
        raise UserError(str(exc)) from None


# ----------------------------------------------------------------------------- figures
def _add_figures(sub) -> None:
    p = sub.add_parser(
        "figures",
        help="regenerate every theorem-check figure and manifest.json",
        description=(
            "Compute, check and draw every theorem-check figure: DIR/<name>.png and .pdf plus "
            "DIR/manifest.json (one record per figure: name, files, claim, check, passed, details). "
            "Exit status 0 if every check passed, 1 if any failed."
        ),
    )
    p.add_argument(
        "--out", default="figures", metavar="DIR", help="output directory (default: ./figures)"
    )
    p.add_argument(
        "--quick", action="store_true", help="small grids (under a minute); for tests and CI"
    )
    p.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        default=None,
        help="make only these figures (names as in manifest.json; see --list)",
    )
    p.add_argument(
        "--list", action="store_true", help="list the figure names and claims, then exit"
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: on a terminal only)",
    )
    p.set_defaults(run=_run_figures)


def _run_figures(args: argparse.Namespace) -> int:
    import os

    import matplotlib

    matplotlib.use("Agg")  # command-line use only: never opens a window
    from .figures import REGISTRY, make_figures

    if args.list:
        for name, spec in REGISTRY.items():
            print(f"{name:<24} {spec.claim}")
        return 0
    if args.only is not None:
        unknown = [n for n in args.only if n not in REGISTRY]
        if unknown:
            raise UserError(
                f"--only: unknown figure name(s) {', '.join(unknown)}; known: {', '.join(REGISTRY)}"
            )
    _check_output_dir(args.out, "--out")
    import shlex

    records = make_figures(
        args.out,
        quick=args.quick,
        only=args.only,
        progress=_stderr_is_terminal() if args.progress is None else bool(args.progress),
        command=shlex.join(["latentclass", *sys.argv[1:]]),
    )
    width = max(len(r["name"]) for r in records)
    print(f"{'figure':<{width}}  passed  seconds")
    for r in records:
        mark = "skip" if r.get("skipped") else ("yes" if r["passed"] else "NO")
        print(f"{r['name']:<{width}}  {mark:<6}  {r['seconds']:7.1f}")
        if not r["passed"] and "error" in r["details"]:
            print(f"{'':<{width}}  error: {r['details']['error']}")
        if r.get("skipped"):  # an optional dependency is missing: one line on how to enable it
            print(f"{'':<{width}}  skipped: {r['skipped']}")
    failed = [r["name"] for r in records if not r["passed"] and not r.get("skipped")]
    manifest = os.path.join(args.out, "manifest.json")
    if failed:
        print(
            f"{len(failed)} of {len(records)} checks FAILED ({', '.join(failed)}); see {manifest}"
            f" or {os.path.join(args.out, 'index.html')}"
        )
        return 1
    n_skip = sum(bool(r.get("skipped")) for r in records)
    if n_skip:
        print(
            f"all {len(records) - n_skip} checks run passed ({n_skip} skipped); "
            f"figures and {manifest} written"
        )
        return 0
    print(f"all {len(records)} checks passed; figures and {manifest} written")
    print(f"open {os.path.join(args.out, 'index.html')} in a browser: every check on one page")
    return 0


# ----------------------------------------------------------------------------- sweep
def _add_sweep(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="sweep the number of negatives k at the certified optimum",
        description=(
            "For each k: the certified optimal representation of the class-level model, its "
            "mean-classifier loss and accuracy (rho-weighted and balanced), collision and "
            "coverage probabilities and the published bounds. Writes CSV or JSON."
        ),
    )
    p.add_argument(
        "--class-probs",
        required=True,
        help="class law: a list 0.5,0.3,0.2 or a family spec such as zipf:10:1.2, "
        "uniform:5, geometric:6:0.7, dominant:5:0.6, two_blocks:6:0.5:4, dirichlet:5:1:SEED",
    )
    p.add_argument(
        "--negatives",
        "-k",
        required=True,
        help="grid of k: comma-separated integers, ranges a..b and 'inf', e.g. 1,2,4,8 or 1..64,inf",
    )
    p.add_argument("--tau", type=float, default=1.0, help="temperature (default 1)")
    p.add_argument(
        "--dim", type=int, default=None, help="representation dimension (default: unconstrained)"
    )
    p.add_argument(
        "--out", default=None, help="output file, .csv or .json (default: CSV on standard output)"
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        help="JSON-lines checkpoint: completed rows are kept and skipped when re-run",
    )
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1: serial)")
    p.add_argument(
        "--warm-start",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="start every k >= 256 from the certified k = inf optimum (default); "
        "--no-warm-start: independent solves",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: only on a terminal, for long sweeps)",
    )
    p.set_defaults(run=_run_sweep)


def _run_sweep(args: argparse.Namespace) -> int:
    import contextlib
    import os

    from ._validation import check_integer
    from .experiments import parse_ks, process_pool, sweep_negatives
    from .model import LatentClassModel

    rho = _parse_class_probs(args.class_probs)
    ks = parse_ks(args.negatives, name="--negatives")
    workers = check_integer(args.workers, "--workers", minimum=1)
    fmt = "csv"
    _check_output_file(args.out, "--out", (".csv", ".json"))
    _check_output_file(args.checkpoint, "--checkpoint")
    if args.out is not None:
        fmt = os.path.splitext(args.out)[1].lower().lstrip(".")
    model = LatentClassModel.one_point_per_class(rho)
    with contextlib.ExitStack() as stack:
        executor = None
        if workers > 1:
            executor = stack.enter_context(process_pool(workers))
        try:
            result = sweep_negatives(
                model,
                ks,
                args.tau,
                dim=args.dim,
                executor=executor,
                checkpoint=args.checkpoint,
                progress=args.progress,
                warm_start=args.warm_start,
            )
        except ValueError as exc:  # name the options, not the library's arguments
            msg = str(exc)
            for lib, opt in (("checkpoint", "--checkpoint"), ("dim", "--dim"), ("tau", "--tau")):
                if msg.startswith(lib):
                    msg = opt + msg[len(lib) :]
                    break
            raise ValueError(msg) from None
    if args.out is None:
        result.to_csv(sys.stdout)
    else:
        (result.to_csv if fmt == "csv" else result.to_json)(args.out)
        n_cert = sum(bool(r["certified"]) for r in result.rows)
        print(f"wrote {len(result.rows)} rows ({n_cert} certified) to {args.out}")
    return 0


# ----------------------------------------------------------------------------- solve
def _parse_class_probs(text: str):
    """Parse ``--class-probs``: ``0.5,0.3,0.2`` or a family spec such as ``zipf:10:1.2``
    (:func:`latentclass.families.parse_class_probs`); ``ValueError`` names ``--class-probs``."""
    from .families import parse_class_probs

    return parse_class_probs(text, name="--class-probs")


def _add_solve(sub) -> None:
    p = sub.add_parser("solve", help="solve for the optimal representation; print a JSON summary")
    p.add_argument(
        "--class-probs",
        required=True,
        help="class law rho as a comma-separated list, e.g. 0.5,0.3,0.2 (class-level model)",
    )
    p.add_argument(
        "--negatives",
        "-k",
        required=True,
        help="number of negatives k (an integer >= 1, or 'inf' for the limit objective)",
    )
    p.add_argument("--tau", type=float, default=1.0, help="temperature (default 1)")
    p.add_argument(
        "--dim", type=int, default=None, help="representation dimension (default: unconstrained)"
    )
    p.add_argument(
        "--method",
        default="auto",
        choices=("auto", "closed-form", "numerical"),
        help="auto (default), closed-form or numerical",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--loss",
        default="logistic",
        choices=("logistic", "hinge", "decoupled", "debiased", "hard_negative"),
        help="contrastive loss (SPEC §8; default logistic); debiased: tau_plus 0.1, "
        "hard_negative: beta 1",
    )
    p.set_defaults(run=_run_solve)


def _check_loss_option(model, k, tau, loss: str) -> None:
    """``--loss``: refuse, before computing, what has no exact engine (one-line error)."""
    if loss == "logistic":
        return
    from .population import NCEObjective

    try:
        obj = NCEObjective(model, k, tau, loss=loss)
    except ValueError as exc:
        raise UserError(f"--loss {loss}: {exc}") from None
    if getattr(obj, "engine", "") == "binomial":
        raise UserError(
            f"--loss {loss}: k={k} is too large for an exact optimisation of this non-convex "
            "loss (the enumeration of the negatives is beyond its limit); use a smaller k"
        )


def _run_solve(args: argparse.Namespace) -> int:
    import json
    import math

    from ._provenance import versions
    from .model import LatentClassModel
    from .optimize import optimal_representation

    rho = _parse_class_probs(args.class_probs)
    k = _parse_k(args.negatives, "--negatives")
    model = LatentClassModel.one_point_per_class(rho)
    _check_loss_option(model, k, args.tau, args.loss)
    if model.n_points >= _SOLVE_NOTICE_POINTS and _stderr_is_terminal():
        print(
            f"latentclass solve: solving the class-level problem with m={model.n_points} "
            f"classes, k={k}; problems of this size take from seconds to minutes ...",
            file=sys.stderr,
            flush=True,
        )
    res = optimal_representation(
        model, k, tau=args.tau, dim=args.dim, method=args.method, rng=args.seed, loss=args.loss
    )
    out = {
        "class_probs": rho.tolist(),
        "k": "inf" if k == math.inf else int(k),
        "tau": args.tau,
        "dim": args.dim,
        "loss": res.loss,
        "duality_gap": res.duality_gap,
        "certified": res.certified,
        "method": res.method,
        "n_iter": res.n_iter,
        "message": res.message,
        "gram": res.gram.tolist(),
        "versions": versions(),
    }
    if args.loss != "logistic":
        out["loss_function"] = args.loss
    print(json.dumps(out, indent=2))
    return 0


# ----------------------------------------------------------------------------- check
def _add_check(sub) -> None:
    p = sub.add_parser(
        "check",
        help="exact (sympy) KKT certificates of the simplex for each (m, k)",
        description=(
            "Decide exactly (rational arithmetic, no floating point) whether the regular simplex "
            "satisfies the KKT conditions of the uniform class-level problem (SPEC §5) for every "
            "number of classes m and negatives k in the given ranges. Prints one row per (m, k); "
            "exit status 0 if every certificate holds, 1 otherwise. Cost grows like m^3 k + k^2."
        ),
    )
    p.add_argument(
        "--classes",
        default="2..8",
        metavar="M|M1..M2",
        help="number of classes m >= 2, or an inclusive range M1..M2 (default: 2..8)",
    )
    p.add_argument(
        "--negatives",
        default="1..16",
        metavar="K|K1..K2",
        help="number of negatives k >= 1, or an inclusive range K1..K2 (default: 1..16)",
    )
    p.set_defaults(run=_run_check)


def _run_check(args: argparse.Namespace) -> int:
    from .symbolic import simplex_kkt

    def parse_range(text: str, option: str, minimum: int) -> range:
        rule = f"{option} must be an integer >= {minimum} or a range A..B with {minimum} <= A <= B"
        parts = str(text).strip().split("..")
        if len(parts) > 2 or not all(p.strip().lstrip("+").isdigit() for p in parts):
            raise ValueError(f"{rule}, got {text!r}")
        lo, hi = int(parts[0]), int(parts[-1])
        if lo < minimum or hi < lo:
            raise ValueError(f"{rule}, got {text!r}")
        return range(lo, hi + 1)

    ms = parse_range(args.classes, "--classes", 2)
    ks = parse_range(args.negatives, "--negatives", 1)
    header = f"{'m':>4} {'k':>6}  {'stationary':<10}  {'dual_feasible':<13}  {'holds':<5}"
    print(header)
    print("-" * len(header))
    failures = 0
    for m in ms:
        for k in ks:
            cert = simplex_kkt(m, k)
            row = (
                f"{m:>4} {k:>6}  {cert.stationary!s:<10}  {cert.dual_feasible!s:<13}  {cert.holds}"
            )
            print(row)
            failures += cert.holds is not True
    total = len(ms) * len(ks)
    if failures:
        print(f"{failures} of {total} certificates do not hold (False or undecided)")
        return 1
    print(f"all {total} certificates hold")
    return 0


# ----------------------------------------------------------------------------- train
def _add_train(sub) -> None:
    p = sub.add_parser(
        "train", help="train with sampled negatives and compare with the certified optimum"
    )
    p.add_argument(
        "--quick", action="store_true", help="short runs (seconds); for tests and figures"
    )
    p.add_argument(
        "--negatives",
        default="1,4,16,64",
        metavar="K1,K2,...",
        help="comma-separated numbers of negatives k (default: 1,4,16,64)",
    )
    p.add_argument(
        "--steps", type=int, default=None, help="optimiser steps per run (default 1500; quick 300)"
    )
    p.add_argument(
        "--batch-size", type=int, default=None, help="examples per batch (default 512; quick 256)"
    )
    p.add_argument("--tau", type=float, default=1.0, help="temperature (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--json", action="store_true", help="print the full result as JSON instead of a table"
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="FILE.json",
        help="also write the full result (rows and curves) as JSON",
    )
    p.add_argument("--progress", action="store_true", help="show a progress bar per run on stderr")
    p.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    import math

    from .training import run_training_experiment

    _check_output_file(args.out, "--out", (".json",))
    from .experiments import parse_ks

    ks = list(parse_ks(args.negatives, name="--negatives"))  # the one parser of k
    if math.inf in ks:
        raise UserError("--negatives: training draws k negatives, so k must be finite (not inf)")
    result = run_training_experiment(
        ks,
        args.tau,
        steps=args.steps,
        batch_size=args.batch_size,
        quick=args.quick,
        rng=args.seed,
        progress=True if args.progress else None,
    )
    if args.out:
        result.to_json(args.out)
    if args.json:
        print(result.to_json())
    else:
        for label in result.models:
            print(f"# {label}: {result.descriptions[label]}")
        print(result.table())
        if args.out:
            print(f"# wrote {args.out}")
    return 0


# ----------------------------------------------------------------------------- diagnose
def _add_diagnose(sub) -> None:
    p = sub.add_parser(
        "diagnose",
        help="neural-collapse diagnosis of your embeddings against the certified optimum",
        description=(
            "Read embeddings EMB (N x d) and labels LABELS (N) from .npy, .npz (one array, or "
            "FILE.npz:KEY) or .csv (never unpickled) and print a JSON diagnosis (SPEC §10): "
            "NC1, NC2, simplex error, mean-classifier accuracy (and loss with --tau), effective "
            "ranks, class frequencies; with --tau and --negatives also the certified optimum "
            "of the class-level model with those frequencies and the distance to it."
        ),
    )
    p.add_argument("embeddings", metavar="EMB", help="embeddings file (.npy, .npz, .csv)")
    p.add_argument("labels", metavar="LABELS", help="labels file (.npy, .npz, .csv)")
    p.add_argument("--tau", type=float, default=None, help="temperature of the logits x.mu/tau")
    p.add_argument(
        "--negatives",
        "-k",
        default=None,
        help="number of negatives k (integer >= 1 or 'inf'); with --tau: compare with the optimum",
    )
    p.add_argument(
        "--normalize",
        default="l2",
        choices=("l2", "max", "none"),
        help="l2 (default): unit rows; max: divide by the largest norm; none: as given",
    )
    p.add_argument("--out", default=None, metavar="FILE.json", help="write the JSON here too")
    p.set_defaults(run=_run_diagnose)


def _run_diagnose(args: argparse.Namespace) -> int:
    import json

    from ._provenance import versions
    from .diagnose import diagnose, read_array

    _check_output_file(args.out, "--out", (".json",))
    k = None if args.negatives is None else _parse_k(args.negatives, "--negatives")
    if k is not None and args.tau is None:
        raise UserError("--negatives needs --tau (the optimum is defined for a temperature)")
    emb = read_array(args.embeddings, "EMB")
    labels = read_array(args.labels, "LABELS", text=True)
    try:
        result = diagnose(emb, labels, tau=args.tau, k=k, normalize=args.normalize)
    except (ValueError, TypeError) as exc:  # name the options, not the library's arguments
        msg = str(exc)
        for lib, opt in (("embeddings", "EMB"), ("labels", "LABELS"), ("tau", "--tau")):
            if msg.startswith(lib):
                msg = opt + msg[len(lib) :]
                break
        raise ValueError(msg) from None
    doc = result.to_dict()
    doc["files"] = {"embeddings": args.embeddings, "labels": args.labels}
    doc["versions"] = versions()
    text = json.dumps(doc, indent=2, allow_nan=False)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    print(text)
    return 0


# ----------------------------------------------------------------------------- digits
def _add_digits(sub) -> None:
    p = sub.add_parser(
        "digits",
        help="more negatives on real images: scikit-learn's bundled digits (extra 'data')",
        description=(
            "Train normalised linear and MLP encoders on scikit-learn's bundled hand-written "
            "digits (no download) with latent-class positives (another image of the same digit) "
            "and k negatives from the training split, a fixed step budget for every k and "
            "several seeds; report held-out mean-classifier accuracy and loss with 95% "
            "confidence intervals, the diagnosis of the held-out embeddings (SPEC §10) and the "
            "certified optimum for the empirical class frequencies. Needs scikit-learn: "
            "pip install 'latentclass[data]'."
        ),
    )
    p.add_argument("--quick", action="store_true", help="a few seconds: k = 1,16,256, 3 seeds")
    p.add_argument(
        "--negatives",
        "-k",
        default=None,
        metavar="K1,K2,...",
        help="comma-separated numbers of negatives (default 1,2,4,...,256)",
    )
    p.add_argument(
        "--encoders", default="linear,mlp", help="comma-separated: linear, mlp (default both)"
    )
    p.add_argument("--seeds", type=int, default=None, help="runs per (encoder, k) (default 5)")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps per run (default 600)")
    p.add_argument("--batch-size", type=int, default=None, help="anchors per step (default 64)")
    p.add_argument("--tau", type=float, default=0.5, help="temperature (default 0.5)")
    p.add_argument("--dim", type=int, default=16, help="output dimension (default 16)")
    p.add_argument("--seed", type=int, default=0, help="root random seed (default 0)")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("--out", default=None, metavar="FILE.json", help="also write the JSON here")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: on a terminal only)",
    )
    p.set_defaults(run=_run_digits)


def _run_digits(args: argparse.Namespace) -> int:
    from .digits import DATA_EXTRA_HINT, run_digits_experiment, sklearn_available

    _check_output_file(args.out, "--out", (".json",))
    if not sklearn_available():
        raise UserError(DATA_EXTRA_HINT)
    ks = None
    if args.negatives is not None:
        from .experiments import parse_ks

        ks = list(parse_ks(args.negatives, name="--negatives"))  # the one parser of k
        if float("inf") in ks:
            raise UserError("--negatives: training draws k negatives, so k must be finite")
    encoders = [e.strip() for e in args.encoders.split(",") if e.strip()]
    try:
        result = run_digits_experiment(
            ks,
            encoders=encoders,
            seeds=args.seeds,
            steps=args.steps,
            batch_size=args.batch_size,
            tau=args.tau,
            dim=args.dim,
            quick=args.quick,
            rng=args.seed,
            progress=args.progress,
        )
    except ValueError as exc:  # name the options, not the library's arguments
        msg = str(exc)
        for lib, opt in (
            ("ks", "--negatives"),
            ("encoders", "--encoders"),
            ("seeds", "--seeds"),
            ("steps", "--steps"),
            ("batch_size", "--batch-size"),
            ("tau", "--tau"),
            ("dim", "--dim"),
            ("rng", "--seed"),
        ):
            if msg.startswith(lib):
                msg = opt + msg[len(lib) :]
                break
        raise ValueError(msg) from None
    if args.out:
        result.to_json(args.out)
    if args.json:
        print(result.to_json())
    else:
        s = result.settings
        print(
            f"# digits: {s['n_train']} training / {s['n_test']} held-out images, "
            f"{s['seeds']} seeds, {s['steps']} steps of {s['batch_size']} anchors, tau={s['tau']}, "
            f"dim={s['dim']}; theory = certified optimum for the training class frequencies"
        )
        print(result.table())
        if args.out:
            print(f"# wrote {args.out}")
    return 0


# ----------------------------------------------------------------------------- entry point
class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors: one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


# ----------------------------------------------------------------------------- erm
def _add_erm(sub) -> None:
    p = sub.add_parser(
        "erm",
        help="certified empirical risk minimiser vs the population optimum across k",
        description=(
            "For each k and seed: draw M examples, solve and certify the minimiser of their "
            "empirical NCE loss, and report its population excess loss and downstream losses "
            "(full task and 2-way) with 95%% t-intervals, beside the certified population "
            "optimum; at fixed M and/or at a fixed budget of M*(k+2) drawn points (SPEC 9.3)."
        ),
    )
    p.add_argument("--class-probs", required=True, help="class law, e.g. 0.5,0.3,0.2 or zipf:5:1")
    p.add_argument(
        "--negatives", "-k", required=True, help="comma-separated integers k >= 1, e.g. 1,4,16,64"
    )
    p.add_argument("--examples", type=int, default=None, help="M for the fixed-M regime")
    p.add_argument(
        "--budget", type=int, default=None, help="drawn points M*(k+2) for the fixed-budget regime"
    )
    p.add_argument("--seeds", type=int, default=5, help="samples per (regime, k) (default 5)")
    p.add_argument("--tau", type=float, default=1.0, help="temperature (default 1)")
    p.add_argument("--seed", type=int, default=0, help="root random seed (default 0)")
    p.add_argument(
        "--out", default=None, help="output file, .csv or .json (default: CSV on standard output)"
    )
    p.set_defaults(run=_run_erm)


def _run_erm(args: argparse.Namespace) -> int:
    import math
    import os

    from .finite_sample import erm_sweep
    from .model import LatentClassModel

    rho = _parse_class_probs(args.class_probs)
    ks = []
    for tok in args.negatives.split(","):
        k = _parse_k(tok.strip(), "--negatives")
        if k == math.inf:
            raise UserError("--negatives must be finite integers for erm (samples are finite)")
        ks.append(int(k))
    if args.examples is None and args.budget is None:
        raise UserError("give --examples (fixed M) or --budget (fixed M*(k+2)), or both")
    if args.examples is not None and args.examples < 2:
        raise UserError(f"--examples must be an integer >= 2, got {args.examples}")
    if args.budget is not None and args.budget // (max(ks) + 2) < 2:
        raise UserError(
            f"--budget must give at least 2 examples at every k (budget // (k + 2) >= 2), "
            f"got {args.budget}"
        )
    if args.seeds < 2:
        raise UserError(f"--seeds must be an integer >= 2, got {args.seeds}")
    if args.seed < 0:
        raise UserError(f"--seed must be an integer >= 0, got {args.seed}")
    if not (math.isfinite(args.tau) and args.tau > 0):
        raise UserError(f"--tau must be a positive number, got {args.tau}")
    _check_output_file(args.out, "--out", (".csv", ".json"))
    model = LatentClassModel.one_point_per_class(rho)
    result = erm_sweep(
        model,
        ks,
        args.tau,
        n_examples=args.examples,
        budget=args.budget,
        seeds=args.seeds,
        rng=args.seed,
    )
    if args.out is None:
        sys.stdout.write(result.to_csv())
    else:
        fmt = os.path.splitext(args.out)[1].lower()
        (result.to_csv if fmt == ".csv" else result.to_json)(args.out)
        print(f"wrote {len(result.rows)} rows to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="latentclass",
        description="Exact simulation of latent-class contrastive learning (see README.md).",
    )
    from . import __version__

    parser.add_argument(
        "--version",
        action="version",
        version=f"latentclass {__version__}",
        help="print the version and exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in (
        _add_figures,
        _add_sweep,
        _add_solve,
        _add_check,
        _add_train,
        _add_diagnose,
        _add_erm,
        _add_digits,
    ):
        add(sub)
    return parser


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.run(args))
    except (UserError, ValueError, TypeError) as exc:
        print(f"latentclass {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except MemoryError as exc:
        print(
            f"latentclass {args.command}: error: out of memory ({_one_line(exc) or 'MemoryError'})",
            file=sys.stderr,
        )
        return 2
    except BrokenPipeError:  # e.g. `latentclass solve ... | head`: the reader went away
        sys.stderr.close()
        return 0
    except OSError as exc:  # files and directories of the user's: one line, not a traceback
        print(f"latentclass {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"latentclass {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
