"""Sphinx configuration of the latentclass documentation.

Build (from the repository root; the source directory is the root, so that the links between
``docs/*.md`` and ``proofs/*.md`` resolve exactly as they do on GitHub)::

    pip install -e '.[docs]' && sphinx-build -W --keep-going -c docs . docs/_build/html

Then open ``docs/_build/html/index.html``.  The examples gallery runs every script of
``examples/`` in its quick mode (``LATENTCLASS_EXAMPLES_QUICK=1``).
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
os.environ["LATENTCLASS_EXAMPLES_QUICK"] = "1"  # the gallery runs main(quick=True)
os.environ.setdefault("MPLBACKEND", "Agg")

from docutils.parsers.rst import Directive  # noqa: E402

import latentclass  # noqa: E402

project = "latentclass"
author = "The latentclass developers"
copyright = "2026, The latentclass developers"
release = latentclass.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

root_doc = "docs/index"
# The source directory is the repository root: only the documentation and the proofs are pages.
include_patterns = ["docs/**", "proofs/**"]
exclude_patterns = ["docs/_build/**", "docs/_generated_unused/**", "**/.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
templates_path: list[str] = []

# Markdown (docs/theory.md, proofs/*.md): $…$ and $$…$$ maths, tables, heading anchors.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# API: autodoc + numpydoc.
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_typehints = "none"  # numpydoc's Parameters/Returns say the types
autodoc_member_order = "bysource"
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = False

intersphinx_mapping: dict[str, tuple[str, str | None]] = {}  # no network at build time

sphinx_gallery_conf = {
    "examples_dirs": ["examples"],
    "gallery_dirs": ["docs/auto_examples"],
    "filename_pattern": r"/[a-z_]+\.py$",  # execute every example
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "plot_gallery": "True",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "show_memory": False,
    "show_signature": False,
    "write_computation_times": False,  # no sg_execution_times.rst in the repository root
}

# Maths offline: MathJax 2 from the distribution (Debian's ``libjs-mathjax``, installed by
# .ci/run), the parts a TeX → CommonHTML page needs (about 1.4 MB) copied into the build's
# ``_static/mathjax``; the pages then render their maths with no network.  Without the
# package the build falls back to Sphinx's default, MathJax from a CDN (as scipy's and
# numpy's documentation do) and says so.
MATHJAX_SYSTEM = "/usr/share/javascript/mathjax"
MATHJAX_PARTS = (
    "MathJax.js",
    "config/TeX-AMS_CHTML.js",
    "jax/input/TeX",
    "jax/element",
    "jax/output/CommonHTML",
    "extensions",
    "fonts/HTML-CSS/TeX/woff",
    "localization/en",
)
html_static_path: list[str] = []


def _local_mathjax() -> str | None:
    """A staging directory holding ``mathjax/`` (the parts above), or ``None`` if absent."""
    import atexit
    import shutil
    import tempfile

    if not all(os.path.exists(os.path.join(MATHJAX_SYSTEM, p)) for p in MATHJAX_PARTS):
        return None
    stage = tempfile.mkdtemp(prefix="latentclass-docs-mathjax-")
    atexit.register(shutil.rmtree, stage, True)
    for part in MATHJAX_PARTS:
        src, dst = os.path.join(MATHJAX_SYSTEM, part), os.path.join(stage, "mathjax", part)
        if os.path.isdir(src):
            shutil.copytree(src, dst)  # symlinked files are copied as files
        else:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(src, dst)
    return stage


_mathjax_stage = _local_mathjax()
if _mathjax_stage is not None:
    html_static_path.append(_mathjax_stage)
    mathjax_path = "mathjax/MathJax.js"  # relative to _static; no query string (Sphinx 9)
    mathjax2_config = {
        "config": ["TeX-AMS_CHTML.js"],
        "showMathMenu": False,
        "messageStyle": "none",
        "CommonHTML": {"linebreaks": {"automatic": False}},
        # Sphinx and MyST mark the page text "mathjax_ignore" and the maths spans "math":
        # MathJax 2's tex2jax must be told so (MathJax 3+ get it from Sphinx).
        "tex2jax": {
            "inlineMath": [["\\(", "\\)"]],
            "displayMath": [["\\[", "\\]"]],
            "processEscapes": True,
            "processClass": "math|output_area",
            "ignoreClass": "tex2jax_ignore|mathjax_ignore|document",
        },
    }
else:
    print(
        f"latentclass docs: {MATHJAX_SYSTEM} not found (apt-get install libjs-mathjax); "
        "the pages load MathJax from its CDN"
    )

html_theme = "alabaster"
html_title = f"latentclass {release}"
html_theme_options = {
    "description": "Exact simulation of latent-class contrastive learning",
    "fixed_sidebar": False,
}
html_sidebars = {"**": ["about.html", "navigation.html", "searchbox.html"]}

nitpicky = False
suppress_warnings: list[str] = []


def _root_redirect(app, exception) -> None:
    """``<out>/index.html`` → ``docs/index.html`` (the root document lives under docs/)."""
    if exception is not None or app.builder.format != "html":
        return
    with open(os.path.join(app.outdir, "index.html"), "w", encoding="utf-8") as fh:
        fh.write(
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            '<meta http-equiv="refresh" content="0; url=docs/index.html">'
            '<title>latentclass</title></head><body><a href="docs/index.html">'
            "latentclass documentation</a></body></html>\n"
        )


def _gallery_title(app, docname: str, source: list[str]) -> None:
    """Each example page of the gallery gets a title: the first sentence of its docstring.

    The examples' docstrings start with a one-line summary, not a reST heading; sphinx-gallery
    uses it for the thumbnail but leaves the page without a title (``toc.no_title``).  The
    summary paragraph that follows the page's ``.. _sphx_glr_…:`` label becomes the heading.
    """
    if not docname.startswith("docs/auto_examples/") or docname.endswith("/index"):
        return
    lines = source[0].split("\n")
    for i, line in enumerate(lines):
        if line.startswith(".. _sphx_glr_") and line.endswith(".py:"):
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            k = j
            while k < len(lines) and lines[k].strip():
                k += 1
            if j == k or lines[j].startswith(".."):
                return
            title = " ".join(x.strip() for x in lines[j:k]).rstrip(".")
            lines[j:k] = [title, "=" * len(title)]
            source[0] = "\n".join(lines)
            return


class RemainingPublicNames(Directive):
    """``.. latentclass-remaining-public-names::`` — autodoc of every name of
    ``latentclass.__all__`` that the page has not documented above it (so the API page always
    documents every public name, whoever adds one)."""

    has_content = False

    def run(self) -> list:
        import inspect
        import re

        source = self.state.document.current_source
        with open(source, encoding="utf-8") as fh:
            text = fh.read()
        listed = set(re.findall(r"^\.\. auto\w+:: latentclass\.(\w+)", text, re.M))
        lines = []
        for name in latentclass.__all__:
            if name in listed:
                continue
            obj = getattr(latentclass, name)
            if inspect.ismodule(obj):
                kind = "automodule"
            elif inspect.isclass(obj) and issubclass(obj, BaseException):
                kind = "autoexception"
            elif inspect.isclass(obj):
                kind = "autoclass"
            elif callable(obj):
                kind = "autofunction"
            else:
                kind = "autodata"
            lines += [f".. {kind}:: latentclass.{name}"]
            if kind in ("automodule", "autoclass"):
                lines += ["   :members:"]
            lines += [""]
        if not lines:
            lines = ["Every public name is documented above.", ""]
        self.state_machine.insert_input(lines, source)
        return []


def setup(app) -> None:
    # MathJax on every page: Sphinx's per-page detection misses the maths of some autodoc
    # docstrings (the API page rendered its formulas as raw TeX without this).
    app.set_html_assets_policy("always")
    app.add_directive("latentclass-remaining-public-names", RemainingPublicNames)
    app.connect("source-read", _gallery_title)
    app.connect("build-finished", _root_redirect)
