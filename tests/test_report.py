"""index.html and the data files beside the figures: the page lists every check, embeds
every figure, loads nothing from the network, and shows no console error and no broken image
in a real headless Chromium (Debian's /usr/bin/chromium, installed by .ci/run); a screenshot at
desktop width shows every figure.  The data file of each figure re-plots it."""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
import shutil
import tempfile

import numpy as np
import pytest

from latentclass.figures import REGISTRY, make_figures
from latentclass.figures.report import REPORT_NAME, render_report, write_report

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Two quick figures (seconds): a curve figure and a grid figure.
FIGURES = ["large_k_limit", "symbolic_certificates"]
DESKTOP = (1366, 900)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    records = make_figures(out, quick=True, only=FIGURES, command="latentclass figures --quick")
    return out, records


# ----------------------------------------------------------------------------- the page as text
def test_page_lists_every_check_and_embeds_every_figure(run):
    out, records = run
    text = (out / REPORT_NAME).read_text(encoding="utf-8")
    document = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert [r["name"] for r in records] == FIGURES
    for rec in records:
        assert f'id="fig-{rec["name"]}"' in text
        assert render_escape(rec["claim"]) in text and render_escape(rec["check"]) in text
        # the very bytes of the PNG are embedded
        png = (out / f"{rec['name']}.png").read_bytes()
        assert base64.b64encode(png).decode("ascii") in text
        # every detail key is listed
        for key in rec["details"]:
            assert f"<td>{render_escape(key)}</td>" in text
    assert (
        text.count('<span class="verdict pass">passed</span>') == 2 * len(records) + 1
    )  # headline, table, sections
    for name, version in document["versions"].items():
        assert render_escape(name) in text and render_escape(version) in text
    assert "<code>latentclass figures --quick</code>" in text


def render_escape(s):
    import html

    return html.escape(str(s), quote=True)


def test_page_loads_nothing_from_anywhere(run):
    out, _ = run
    text = (out / REPORT_NAME).read_text(encoding="utf-8")
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert "<script" not in text
    srcs = re.findall(r'src="([^"]*)"', text)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text.replace("data:", ""))
    # the links go to files that exist beside the page
    for href in re.findall(r'href="([^"#]*)"', text):
        assert (out / href).is_file(), href


def test_a_failed_check_and_a_missing_figure_are_shown_as_such(tmp_path):
    doc = {
        "versions": {"latentclass": "0"},
        "command": None,
        "quick": True,
        "created": "now",
        "figures": [
            dict(
                name="broken<fig>",
                files=["broken.png"],
                claim="a & b",
                check="c",
                passed=False,
                details={"error": "ValueError: x"},
                seconds=1.0,
            )
        ],
    }
    text = render_report(doc, tmp_path)
    assert "1 of 1 checks FAILED" in text
    assert "figure missing: broken.png not found" in text
    assert "broken&lt;fig&gt;" in text and "a &amp; b" in text and "<fig>" not in text
    assert "<img" not in text


def test_data_file_of_every_figure_replots_it(run):
    out, records = run
    for rec in records:
        assert rec["data"] == f"{rec['name']}.json"
        stored = json.loads((out / rec["data"]).read_text(encoding="utf-8"))
        assert stored["figure"] == rec["name"]
        # strict JSON (no NaN/Infinity tokens) and the check re-run on the stored data agrees
        assert (
            "Infinity" not in (out / rec["data"]).read_text()
            and "NaN" not in (out / rec["data"]).read_text()
        )
    # re-plot the large-k limit from its file: the slope of the stored series is the recorded one
    stored = json.loads((out / "large_k_limit.json").read_text())["data"]
    rec = {r["name"]: r for r in records}["large_k_limit"]
    ks = np.array(stored["ks"], dtype=float)
    for key, series in stored["series"].items():
        v = np.array(series["values"], dtype=float)
        sel = ks >= rec["details"]["fit_k_min"]
        slope = np.polyfit(np.log(ks[sel]), np.log(v[sel]), 1)[0]
        assert math.isclose(slope, rec["details"]["slopes"][key], rel_tol=0, abs_tol=1e-9)
    # and the symbolic grid: the stored holds-table has the recorded counts
    sym = json.loads((out / "symbolic_certificates.json").read_text())["data"]
    details = {r["name"]: r for r in records}["symbolic_certificates"]["details"]
    assert details["ms"] == sym["ms"] and details["ks"] == sym["ks"]


def test_write_report_replaces_the_page_atomically(run, tmp_path):
    out, _ = run
    for f in os.listdir(out):
        shutil.copy(out / f, tmp_path / f)
    document = json.loads((tmp_path / "manifest.json").read_text())
    document["figures"][0]["passed"] = False
    path = write_report(document, tmp_path)
    assert path == str(tmp_path / REPORT_NAME)
    assert "1 of 2 checks FAILED" in (tmp_path / REPORT_NAME).read_text()
    assert not (tmp_path / (REPORT_NAME + ".tmp")).exists()


# ----------------------------------------------------------------------------- in a real browser
def _browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        if os.environ.get("LATENTCLASS_REQUIRE_CHROMIUM"):  # set by .ci/run: never skip in CI
            pytest.fail(f"{CHROMIUM} / {CHROMEDRIVER} absent but LATENTCLASS_REQUIRE_CHROMIUM set")
        pytest.skip(
            f"{CHROMIUM} / {CHROMEDRIVER} absent: `apt-get install -y chromium chromium-driver` "
            "(.ci/run installs them, so CI never skips this)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the test extra)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="lc-chromium-")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver._lc_profile = profile
    return driver


@pytest.fixture
def browser():
    driver = _browser()
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(driver._lc_profile, ignore_errors=True)


def audit(driver, path) -> dict:
    """Load ``path`` and return what a reviewer's browser shows: console errors, images
    that did not load, images that did, the page's 'figure missing' notices."""
    driver.get("file://" + os.fspath(path))
    driver.execute_script("return document.readyState")  # get() waits for 'complete'
    images = driver.execute_script(
        "return [...document.images].map(i => ({src: i.src.slice(0, 40), complete: i.complete,"
        " w: i.naturalWidth, h: i.naturalHeight}))"
    )
    return dict(
        console_errors=[e for e in driver.get_log("browser") if e["level"] == "SEVERE"],
        broken=[i for i in images if not (i["complete"] and i["w"] > 0 and i["h"] > 0)],
        loaded=[i for i in images if i["complete"] and i["w"] > 0 and i["h"] > 0],
        missing=driver.execute_script("return document.querySelectorAll('.missing').length"),
    )


def test_page_in_headless_chromium_no_console_error_no_broken_image(run, browser):
    out, records = run
    seen = audit(browser, out / REPORT_NAME)
    assert seen["console_errors"] == []
    assert seen["broken"] == []
    assert seen["missing"] == 0
    assert len(seen["loaded"]) == len(records) == len(FIGURES)


def test_screenshot_at_desktop_width_shows_every_figure(run, browser, tmp_path):
    from matplotlib.image import imread

    out, records = run
    browser.get("file://" + os.fspath(out / REPORT_NAME))
    rects = browser.execute_script(
        "return [...document.images].map(i => { const r = i.getBoundingClientRect();"
        " return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height}; })"
    )
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    png = base64.b64decode(shot["data"])
    (tmp_path / "report.png").write_bytes(png)
    pixels = imread(io.BytesIO(png))[..., :3]
    height, width = pixels.shape[:2]
    assert width >= DESKTOP[0] - 40  # desktop width (less a scroll bar)
    assert len(rects) == len(records)
    for rect in rects:
        assert rect["w"] >= 300 and rect["h"] >= 150, rect  # drawn at a readable size
        x0, y0 = round(rect["x"]), round(rect["y"])
        x1, y1 = x0 + round(rect["w"]), y0 + round(rect["h"])
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, (rect, width, height)
        region = pixels[y0:y1, x0:x1]
        # the figure is there: ink (dark pixels) and colour, not a blank or an icon
        dark = float(np.mean(region.mean(axis=2) < 0.5))
        spread = float(np.ptp(region, axis=2).max())
        assert dark > 0.002 and spread > 0.2, (rect, dark, spread)


def test_browser_check_fails_when_an_image_is_missing(run, browser, tmp_path):
    """The audit is a real check: a deleted PNG, a broken <img> and a console error are seen."""
    out, records = run
    for f in os.listdir(out):
        shutil.copy(out / f, tmp_path / f)
    os.remove(tmp_path / f"{records[0]['name']}.png")
    document = json.loads((tmp_path / "manifest.json").read_text())
    write_report(document, tmp_path)
    seen = audit(browser, tmp_path / REPORT_NAME)
    assert seen["missing"] == 1 and len(seen["loaded"]) == len(records) - 1
    # a page referring to an image that is not there: a broken image and a console error
    page = (tmp_path / REPORT_NAME).read_text()
    page = page.replace("</body>", '<img src="nowhere.png" alt="x"></body>').replace(
        "img-src data:", "img-src data: file:"
    )
    (tmp_path / "broken.html").write_text(page)
    seen = audit(browser, tmp_path / "broken.html")
    assert len(seen["broken"]) == 1
    assert seen["console_errors"], "a missing file is a console error in Chromium"


def test_every_registered_figure_would_get_a_section():
    doc = {
        "figures": [
            dict(name=n, files=[], claim=s.claim, check=s.check, passed=True, details={})
            for n, s in REGISTRY.items()
        ]
    }
    text = render_report(doc)
    assert all(f'id="fig-{n}"' in text for n in REGISTRY)
    assert text.count("figure missing") == len(REGISTRY)


# ----------------------------------------------------------------------------- ax=
@pytest.mark.parametrize(
    ("name", "n_panels"),
    [("large_k_limit", 2), ("downstream_uniform", 2), ("symbolic_certificates", 2)],
)
def test_draw_into_the_caller_s_axes(name, n_panels):
    from matplotlib.figure import Figure

    spec = REGISTRY[name]
    data = spec.compute(True)
    passed, details = spec.verify(data)
    alone = spec.draw(data, passed, details)
    fig = Figure()
    axes = fig.subplots(1, n_panels) if n_panels > 1 else fig.subplots()
    assert spec.draw(data, passed, details, ax=axes) is fig
    mine = [axes] if n_panels == 1 else list(axes)
    theirs = [a for a in alone.axes if a.get_label() != "<colorbar>"]
    assert len(theirs) == n_panels
    for a, b in zip(mine, theirs):  # the same data drawn: the same artists, the same points
        assert len(a.lines) == len(b.lines) and len(a.images) == len(b.images)
        assert len(a.lines) + len(a.images) + len(a.collections) > 0
        for la, lb in zip(a.lines, b.lines):
            np.testing.assert_array_equal(la.get_xydata(), lb.get_xydata())
        for ia, ib in zip(a.images, b.images):
            np.testing.assert_array_equal(ia.get_array(), ib.get_array())
    assert fig._suptitle is None  # the caller's figure keeps its own title and footer
    with pytest.raises(ValueError, match="ax"):
        spec.draw(data, passed, details, ax=[*mine, *mine])
    with pytest.raises(TypeError, match="ax"):
        spec.draw(data, passed, details, ax=["not an axes"] * n_panels)


# ----------------------------------------------------------------------------- honest titles
def test_bound_trend_is_what_the_values_do():
    from latentclass.figures.uniform import _bound_trend

    inf = math.inf
    assert _bound_trend([1, 2, 4], [1.0, 2.0, 3.0]) == "grows"
    assert _bound_trend([1, 2, 4], [3.0, 2.0, 2.0]) == "falls"
    assert _bound_trend([1, 2, 4, 8], [inf, 5.0, 3.0, 4.0]) == (
        "falls to k=4, then grows (∞ at k = 1)"
    )
    assert _bound_trend([1, 2, 4, 8], [1.0, 5.0, 3.0, None]) == (
        "grows to k=2, then falls (undefined at k = 8)"
    )
    assert _bound_trend([1, 2, 4, 8], [1.0, 5.0, 3.0, 6.0]) == "not monotone"


def test_downstream_title_reports_the_measured_trends():
    spec = REGISTRY["downstream_uniform"]
    data = spec.compute(True)
    passed, details = spec.verify(data)
    trends = details["bound_trend_with_k"]
    # recomputed independently from the per-k bounds of the details
    for name, trend in trends.items():
        vals = [
            b[name] for _, b in sorted(details["bounds_per_k"].items(), key=lambda kv: float(kv[0]))
        ]
        finite = [v for v in vals if v is not None and v != math.inf]
        steps = np.diff(finite)
        assert trend.startswith("grows") == bool(np.all(steps >= 0)), (name, trend)
        assert trend.startswith("falls") == (not np.all(steps >= 0) and steps[0] <= 0), (
            name,
            trend,
        )
    fig = spec.draw(data, passed, details)
    title = " ".join(fig._suptitle.get_text().split())
    assert "three of the four" not in title
    assert "Nozawa–Sato " + trends["nozawa_sato"].split(" (")[0] in title


def test_symbolic_check_fails_when_a_margin_contradicts_the_certificate():
    from latentclass.figures import check_symbolic_certificates

    good = {
        "ms": [2],
        "ks": [1, 2],
        "holds": [[True, True]],
        "neg_alpha_tau1": [[0.1, 0.2]],
        "beta_tau1": [[0.05, 0.06]],
    }
    assert check_symbolic_certificates(good)[0] is True
    bad = dict(good, beta_tau1=[[0.05, -1e-3]])
    passed, details = check_symbolic_certificates(bad)
    assert passed is False and details["margins_inconsistent_with_holds"][0]["k"] == 2
    assert details["min_beta_tau1"] == -1e-3


def test_a_skipped_figure_is_neither_passed_nor_failed(tmp_path):
    rec = dict(name="digits", files=[], data=None, claim="c", check="k", passed=False, details={})
    doc = {"figures": [dict(rec, skipped="needs scikit-learn: pip install scikit-learn")]}
    text = render_report(doc, tmp_path)
    assert "all 0 checks passed, 1 skipped" in text
    assert '<span class="verdict skip">skipped</span>' in text
    assert "skipped: needs scikit-learn: pip install scikit-learn" in text
    assert "FAILED" not in text and "figure missing" not in text
    doc["figures"].append(dict(rec, name="other"))
    assert "1 of 2 checks FAILED, 1 skipped" in render_report(doc, tmp_path)
