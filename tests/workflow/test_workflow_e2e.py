"""The workflow end to end: analysis on synthetic finished runs (fast), the HTML report checked in a real
browser, and a real run of the `smoke` suite through `marie train` (slow)."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from workflow_helpers import REPO, VENV_BIN, copy_workflow, snakemake
from fake_runs import write_suite_runs

from analysis.suite import load_suite

SMOKE_OUTPUTS = [
    "figures/learning_curves_smax.png",
    "figures/learning_curves_smax.pdf",
    "figures/learning_curves_pettingzoo.png",
    "figures/aggregates.png",
    "figures/probability_of_improvement.pdf",
    "tables/final_performance.csv",
    "tables/final_performance.md",
    "tables/aggregates.md",
    "tables/provenance.csv",
    "tables/sample_efficiency.csv",
    "tables/sample_efficiency.md",
    "report.md",
    "marl_eval.json",
]


def assert_suite_outputs(root: Path, suite: str = "smoke") -> None:
    out = root / "results" / suite
    missing = [name for name in SMOKE_OUTPUTS if not (out / name).is_file() or (out / name).stat().st_size == 0]
    assert not missing, f"missing outputs: {missing}"
    assert "SMAX stand-in" in (out / "tables/final_performance.md").read_text()
    assert "The sample-efficiency claim at this budget" in (out / "report.md").read_text()


def _with_smoke(root: Path, *args: str, **kwargs):
    return snakemake(root, *args, "--config", "suite=smoke", **kwargs)


@pytest.fixture(scope="module")
def smoke_analysed(tmp_path_factory) -> Path:
    root = copy_workflow(tmp_path_factory.mktemp("e2e_smoke"))
    write_suite_runs(root, load_suite("smoke"))
    result = _with_smoke(root, "--cores", "2", "figures", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return root


def test_workflow_makes_every_figure_and_table_from_finished_runs(smoke_analysed):
    assert_suite_outputs(smoke_analysed)
    # train jobs were not rerun: their outputs (COMPLETED markers) already existed
    assert not (smoke_analysed / "results/logs/smoke/smax/3m/marie/seed1.log").exists()


def test_rerun_does_nothing(smoke_analysed):
    result = _with_smoke(smoke_analysed, "-n", "--cores", "2", "figures")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_adding_a_baseline_csv_reruns_the_figures(smoke_analysed, tmp_path):
    root = smoke_analysed
    shutil.copy(REPO / "results/baselines/examples/qmix_smax_example.csv", root / "results/baselines/zz_example.csv")
    try:
        result = _with_smoke(root, "-n", "--cores", "2", "figures")
        assert "learning_curves" in result.stdout and "final_table" in result.stdout
        assert "collect" not in [line.strip() for line in result.stdout.splitlines() if line.startswith("rule ")]
    finally:
        (root / "results/baselines/zz_example.csv").unlink()


def make(root: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """`make` in a workflow copy, with the test environment as its .venv (never re-installed: -o)."""
    venv = root / ".venv"
    if not venv.exists():
        venv.symlink_to(VENV_BIN.parent, target_is_directory=True)
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    return subprocess.run(
        ["make", "-o", ".venv/.installed", *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def report_html(smoke_analysed) -> Path:
    """`make report` with a --configfile that changes an analysis option: the report must be made with it."""
    extra = smoke_analysed / "extra_config.yaml"
    extra.write_text("analysis: {band: minmax}\n")
    result = make(smoke_analysed, "report", "SUITE=smoke", f"CONFIGFILE={extra}", "CORES=2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    path = smoke_analysed / "results/smoke/report.html"
    assert path.is_file()
    return path


def test_report_is_made_with_the_users_config(report_html):
    text = report_html.read_text()
    front_page = text[text.index("var workflow_desc") :][:4000]
    assert 'suite <tt class=\\"docutils literal\\">smoke</tt>' in front_page
    assert 'band <tt class=\\"docutils literal\\">minmax</tt>' in front_page


def test_make_refuses_a_suite_given_in_config(tmp_path):
    root = copy_workflow(tmp_path)
    result = make(root, "-n", "report", "CONFIG=suite=smoke")
    assert result.returncode != 0 and "give the suite as SUITE=NAME, not in CONFIG" in result.stderr


def test_report_is_self_contained(report_html):
    text = report_html.read_text()
    assert text.count("data:image/png;") >= 3  # figures are embedded, not linked
    assert "reproduction_report.html" in text and "final_performance.html" in text


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class DevTools:
    """A minimal Chrome DevTools Protocol client (websockets), enough to drive one page."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        return result["result"].get("value")


@pytest.mark.browser
@pytest.mark.skipif(_chromium() is None, reason="headless Chromium not installed (Debian: apt-get install chromium)")
def test_report_figures_display_in_a_browser(report_html, tmp_path):
    profile = tmp_path / "chromium-profile"
    browser = subprocess.Popen(
        [_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
         f"--user-data-dir={profile}", "--window-size=1400,1000", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.is_file() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(p for p in pages if p["type"] == "page")
        from websockets.sync.client import connect

        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30) as ws:
            _check_figures(DevTools(ws), report_html, tmp_path)
    finally:
        browser.terminate()
        browser.wait(timeout=30)


def _check_figures(tools: DevTools, report_html: Path, shots: Path) -> None:
    from PIL import Image

    tools.call("Page.enable")
    tools.call("Page.navigate", url=report_html.as_uri())
    for _ in range(100):
        if tools.evaluate("document.readyState === 'complete' && typeof app !== 'undefined'"):
            break
        time.sleep(0.2)
    menu = tools.evaluate("document.body.innerText")
    assert "Figures" in menu and "Tables" in menu and "Reproduction report" in menu
    figures = tools.evaluate(
        "Object.keys(results).filter(p => results[p].mime_type === 'image/png')"
    )
    assert any("learning_curves_smax" in f for f in figures) and any("aggregates" in f for f in figures)
    for figure in figures:
        # what the report's own "view" button does when a reader clicks a figure
        tools.evaluate(
            f"app.setView({{content: 'img', contentPath: results[{json.dumps(figure)}].data_uri, "
            f"resultPath: {json.dumps(figure)}}})"
        )
        size = tools.evaluate(
            "new Promise(resolve => { const t0 = Date.now(); (function check() {"
            " const img = document.querySelector('img[src^=\"data:image/png\"]');"
            " if (img && img.complete && img.naturalWidth > 0) resolve([img.naturalWidth, img.naturalHeight]);"
            " else if (Date.now() - t0 > 10000) resolve([0, 0]); else setTimeout(check, 100); })(); })"
        )
        assert size[0] > 100 and size[1] > 100, f"{figure} does not display: natural size {size}"
        shot = tools.call("Page.captureScreenshot", format="png")
        pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("L"))
        assert pixels.std() > 10 and (pixels < 100).mean() > 0.002, f"screenshot of {figure} looks blank"
        (shots / f"{Path(figure).stem}.screenshot.png").write_bytes(base64.b64decode(shot["data"]))


# Limits of the steps of test_smoke_suite_for_real (seconds); the test's own pytest-timeout covers all of them,
# beyond pyproject's default --timeout (tests/workflow/test_timeouts.py checks both).
SMOKE_TRAIN_S = 1800
SMOKE_DRY_RUN_S = 300
SMOKE_REPORT_S = 600
SMOKE_TEST_TIMEOUT_S = SMOKE_TRAIN_S + SMOKE_DRY_RUN_S + SMOKE_REPORT_S + 300


@pytest.mark.slow
@pytest.mark.timeout(SMOKE_TEST_TIMEOUT_S)
@pytest.mark.skipif(not (VENV_BIN / "marie").exists(), reason="`marie` is not installed next to snakemake")
def test_smoke_suite_for_real(tmp_path):
    """`marie train` for every smoke run, then figures, tables and the report, all through Snakemake."""
    root = copy_workflow(tmp_path)
    result = _with_smoke(root, "--cores", "2", "figures", timeout=SMOKE_TRAIN_S)
    assert result.returncode == 0, result.stderr[-4000:]
    assert_suite_outputs(root)
    for run in load_suite("smoke").runs:
        marker = root / run.run_dir() / "COMPLETED"
        assert json.loads(marker.read_text())["env_steps"] >= run.steps
    assert "Nothing to be done" in (_with_smoke(root, "-n", "--cores", "2", timeout=SMOKE_DRY_RUN_S).stdout)
    result = make(root, "report", "SUITE=smoke", "CORES=2", timeout=SMOKE_REPORT_S)
    assert result.returncode == 0 and (root / "results/smoke/report.html").is_file()
