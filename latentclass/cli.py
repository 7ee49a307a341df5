"""Command line: ``latentclass figures | sweep | solve | check | train``.

Each subcommand has an ``_add_<name>(subparsers)`` that declares its arguments and a
``_run_<name>(args) -> int`` that does the work and returns the exit status.  User
errors (``ValueError``/``TypeError`` from the library, bad arguments) print one line
``latentclass: error: ...`` to stderr and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

__all__ = ["main", "build_parser", "UserError"]


class UserError(Exception):
    """An error in what the user asked for: reported in one line, exit status 2."""


# ----------------------------------------------------------------------------- figures
def _add_figures(sub) -> None:
    p = sub.add_parser("figures", help="regenerate every theorem-check figure and manifest.json")
    p.add_argument("--out", default="figures", help="output directory (default: ./figures)")
    p.add_argument("--quick", action="store_true", help="small grids (under a minute); for tests and CI")
    p.set_defaults(run=_run_figures)


def _run_figures(args: argparse.Namespace) -> int:
    raise UserError("the figures command is not available yet")


# ----------------------------------------------------------------------------- sweep
def _add_sweep(sub) -> None:
    p = sub.add_parser("sweep", help="sweep the number of negatives k at the certified optimum")
    p.set_defaults(run=_run_sweep)


def _run_sweep(args: argparse.Namespace) -> int:
    raise UserError("the sweep command is not available yet")


# ----------------------------------------------------------------------------- solve
def _add_solve(sub) -> None:
    p = sub.add_parser("solve", help="solve for the optimal representation; print a JSON summary")
    p.set_defaults(run=_run_solve)


def _run_solve(args: argparse.Namespace) -> int:
    raise UserError("the solve command is not available yet")


# ----------------------------------------------------------------------------- check
def _add_check(sub) -> None:
    p = sub.add_parser("check", help="exact (sympy) KKT certificates of the simplex for each (m, k)")
    p.set_defaults(run=_run_check)


def _run_check(args: argparse.Namespace) -> int:
    raise UserError("the check command is not available yet")


# ----------------------------------------------------------------------------- train
def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train with sampled negatives and compare with the certified optimum")
    p.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    raise UserError("the train command is not available yet")


# ----------------------------------------------------------------------------- entry point
class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors: one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="latentclass",
        description="Exact simulation of latent-class contrastive learning (see README.md).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in (_add_figures, _add_sweep, _add_solve, _add_check, _add_train):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.run(args))
    except (UserError, ValueError, TypeError) as exc:
        print(f"latentclass {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
