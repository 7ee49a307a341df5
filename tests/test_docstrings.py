"""Every public callable has a numpydoc docstring with a Parameters section (when it takes
parameters) and a Returns (or Yields) section, parsed by ``numpydoc.docscrape``; the
documented parameters are the signature's.

Public: ``latentclass.__all__``, ``latentclass.losses.__all__``, the modules the API page
documents with ``automodule`` (``latentclass.symbolic``, ``latentclass.families``), every
``autofunction`` of ``docs/api.rst``, and the public methods of every public class.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import re
import warnings

import pytest

import latentclass

docscrape = pytest.importorskip("numpydoc.docscrape")

API = pathlib.Path(__file__).resolve().parent.parent / "docs" / "api.rst"


def _resolve(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for p in parts[i:]:
            obj = getattr(obj, p)
        return obj
    raise ImportError(dotted)


def _module_names(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, v in vars(module).items()
            if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__
        ]
    return list(names)


def public_callables() -> dict[str, object]:
    """Qualified name -> function or method, for every public callable of the library."""
    found: dict[str, object] = {}
    roots = [latentclass, _resolve("latentclass.losses")]
    text = API.read_text(encoding="utf-8")
    roots += [
        _resolve(m) for m in re.findall(r"^\.\. automodule:: (latentclass[\w.]*)", text, re.M)
    ]
    for module in roots:
        for name in _module_names(module):
            found[f"{module.__name__}.{name}"] = getattr(module, name)
    for dotted in re.findall(r"^\.\. auto(?:function|class):: (latentclass[\w.]*)", text, re.M):
        found[dotted] = _resolve(dotted)
    out: dict[str, object] = {}
    for qual, obj in found.items():
        if inspect.ismodule(obj):
            continue
        if inspect.isclass(obj):
            if issubclass(obj, BaseException):
                continue
            for meth in dir(obj):
                if meth.startswith("_"):
                    continue
                raw = inspect.getattr_static(obj, meth)
                if isinstance(raw, (staticmethod, classmethod)):
                    raw = raw.__func__
                if not inspect.isfunction(raw):
                    continue  # properties, attributes, slots
                if not raw.__module__.startswith("latentclass"):
                    continue  # dataclass / Protocol machinery
                out[f"{qual}.{meth}"] = getattr(obj, meth)
        elif callable(obj):
            out[qual] = obj
    return out


CALLABLES = public_callables()


def _parameters(func) -> list[str]:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return []
    return [
        p.name
        for p in sig.parameters.values()
        if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _documented(section) -> set[str]:
    names: set[str] = set()
    for item in section:
        for n in item.name.split(","):
            n = n.strip().lstrip("*")
            if n:
                names.add(n)
    return names


def test_the_collection_finds_the_public_api():
    assert len(CALLABLES) > 100
    for name in (
        "latentclass.optimal_representation",
        "latentclass.NCEObjective.value_and_grad",
        "latentclass.losses.resolve_loss",
        "latentclass.families.zipf",
        "latentclass.figures.report.render_report",
        "latentclass.LatentClassModel.one_point_per_class",
    ):
        assert name in CALLABLES, name


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_numpydoc_docstring_has_parameters_and_returns(name):
    func = CALLABLES[name]
    doc = inspect.getdoc(func)
    assert doc, f"{name} has no docstring"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpydoc warns on unknown sections, bad headings
        parsed = docscrape.NumpyDocString(doc)
    assert parsed["Summary"], f"{name}: no summary line"
    params = _parameters(func)
    if params:
        assert parsed["Parameters"], f"{name}: no Parameters section"
        documented = _documented(parsed["Parameters"]) | _documented(parsed["Other Parameters"])
        missing = [p for p in params if p not in documented]
        assert not missing, f"{name}: parameters not documented: {missing}"
        extra = sorted(documented - set(params) - {"args", "kwargs"})
        assert not extra, f"{name}: documented but not in the signature: {extra}"
    assert parsed["Returns"] or parsed["Yields"], f"{name}: no Returns section"
