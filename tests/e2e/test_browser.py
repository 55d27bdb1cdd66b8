"""The widgets in a real browser: JupyterLab 4 (and Notebook 7 when it is installed) serving
``widgets.ipynb``, driven by headless Debian Chromium through Playwright's Python API.

One server and one browser per front end (module-scoped): all cells are run, then each test
checks one widget on the page — every graph's SVG is visible, two clicks on the accumulator's
``backward(retain_graph=True)`` show -1.3254 then -2.6509, a second plain ``backward()``
shows PyTorch's error in the widget, moving the Jacobian explorer's selector adds a row, the
tape player steps to a backward node with its chain rule, the explore sliders change the
value. Screenshots of each widget go to ``docs/screenshots/`` (JupyterLab run).

Skipped, with the reason, when Chromium (``/usr/bin/chromium``; ``.ci/install-browser``
installs it), Playwright, JupyterLab, ipykernel or ipywidgets is missing. Never runs
``playwright install``. Every wait is bounded; the server, its kernel and the browser are
always stopped (by their process ids).
"""
from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "widgets.ipynb"
SHOTS = HERE.parent.parent / "docs" / "screenshots"
CHROMIUM = os.environ.get("NBAUTOGRAD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SESSION_BUDGET = 100.0     # seconds for one front end: server, browser, run all, every check
STEP_TIMEOUT_MS = 20_000   # one click or wait on the page

UIS = {"lab": ("jupyterlab", "LabApp", "/lab/tree/widgets.ipynb"),
       "notebook": ("notebook", "JupyterNotebookApp", "/notebooks/widgets.ipynb")}


def _missing(ui: str) -> list[str]:
    why = []
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        why.append(f"no Chromium at {CHROMIUM} (.ci/install-browser installs Debian's)")
    for mod in ("playwright", UIS[ui][0], "ipykernel", "ipywidgets"):
        if importlib.util.find_spec(mod) is None:
            why.append(f"{mod} is not installed")
    return why


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1))


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def ms(self, cap_ms: int = STEP_TIMEOUT_MS) -> int:
        left = self.left()
        if left <= 0:
            pytest.fail("the browser session ran out of time")
        return int(min(cap_ms, left * 1000))


class JupyterServer:
    """A Jupyter server of our own: fresh config/data/runtime/settings dirs under ``tmp``, a
    kernel running this Python, 127.0.0.1 on a free port, a random token."""

    def __init__(self, ui: str, tmp: Path) -> None:
        self.ui, self.tmp = ui, tmp
        self.token = secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log = tmp / "server.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def prepare(self) -> None:
        root = self.tmp / "root"
        root.mkdir()
        nb = json.loads(NOTEBOOK.read_text())
        for c in nb["cells"]:
            if c["cell_type"] == "code":
                c["outputs"], c["execution_count"] = [], None
        nb["metadata"]["kernelspec"] = {"name": "nbag-e2e", "display_name": "nbautograd e2e",
                                        "language": "python"}
        _write_json(root / NOTEBOOK.name, nb)
        _write_json(self.tmp / "data" / "kernels" / "nbag-e2e" / "kernel.json", {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "nbautograd e2e", "language": "python",
            "env": {"IPYTHONDIR": str(self.tmp / "ipython")}, "metadata": {"debugger": False}})
        settings = self.tmp / "settings"
        _write_json(settings / "@jupyterlab" / "notebook-extension" /
                    "tracker.jupyterlab-settings",
                    {"windowingMode": "none", "scrollPastEnd": False})
        _write_json(settings / "@jupyterlab" / "apputils-extension" /
                    "notification.jupyterlab-settings",
                    {"fetchNews": "false", "checkForUpdates": False})
        _write_json(settings / "@jupyterlab" / "docmanager-extension" /
                    "plugin.jupyterlab-settings", {"autosave": False})

    def start(self, deadline: Deadline) -> None:
        module, app, _ = UIS[self.ui]
        env = {k: v for k, v in os.environ.items()
               if k not in ("JUPYTER_PATH", "JUPYTER_TOKEN", "JUPYTER_CONFIG_PATH")}
        env.update(JUPYTER_CONFIG_DIR=str(self.tmp / "config"),
                   JUPYTER_DATA_DIR=str(self.tmp / "data"),
                   JUPYTER_RUNTIME_DIR=str(self.tmp / "runtime"),
                   JUPYTERLAB_SETTINGS_DIR=str(self.tmp / "settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(self.tmp / "workspaces"),
                   IPYTHONDIR=str(self.tmp / "ipython"), PYTHONUNBUFFERED="1")
        for attempt in range(3):
            self.port = _free_port()
            cmd = [sys.executable, "-m", module, "--no-browser", "--ip=127.0.0.1",
                   f"--port={self.port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}",
                   f"--ServerApp.root_dir={self.tmp / 'root'}",
                   "--MappingKernelManager.default_kernel_name=nbag-e2e",
                   f"--{app}.expose_app_in_browser=True"]
            if self.ui == "lab":
                cmd += ["--LabApp.news_url=None",
                        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                cmd.append("--allow-root")
            with open(self.log, "a") as log:
                self.proc = subprocess.Popen(cmd, cwd=self.tmp / "root", env=env,
                                             stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
            while deadline.left() > 0 and self.proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"{self.base}/api/status?token={self.token}",
                                                timeout=2) as r:
                        if r.status == 200:
                            return
                except OSError:
                    time.sleep(0.25)
            if self.proc.poll() is None:
                break            # still running but never answered: give up below
        self.stop()
        pytest.fail(f"the Jupyter server did not start; log:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                req = urllib.request.Request(f"{self.base}/api/shutdown?token={self.token}",
                                             method="POST", data=b"")
                urllib.request.urlopen(req, timeout=5).close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    try:
                        os.killpg(self.proc.pid, sig)
                    except ProcessLookupError:
                        break
                    try:
                        self.proc.wait(timeout=5)
                        break
                    except subprocess.TimeoutExpired:
                        continue
        _kill_leftovers(str(self.tmp))


def _kill_leftovers(marker: str) -> None:
    """End the processes this session started that outlived a clean shutdown: the kernel
    (its connection file) and Chromium (its profile) both live under ``marker``."""
    me = os.getpid()
    pids = []
    for d in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd and int(d.name) != me:
            pids.append(int(d.name))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for pid in pids:
            try:
                os.kill(pid, sig)
                alive.append(pid)
            except (ProcessLookupError, PermissionError):
                pass
        if not alive:
            return
        time.sleep(0.5)
        pids = alive


# --- JavaScript run in the page ------------------------------------------------------------
_PANEL = """const app = window.jupyterapp; if (!app) return null;
  const w = app.shell.currentWidget;
  if (!w || !w.content || !w.content.model || !w.sessionContext) return null;"""

JS_KERNEL_IDLE = f"""() => {{ {_PANEL.replace('return null', 'return false')}
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle' && w.content.widgets.length > 0; }}"""

JS_RUN_ALL = "() => window.jupyterapp.commands.execute('notebook:run-all-cells')"

JS_ALL_DONE = f"""() => {{ {_PANEL.replace('return null', 'return false')}
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  if (!k || k.status !== 'idle') return false;
  const cells = w.content.model.cells;
  for (let i = 0; i < cells.length; i++) {{
    const c = cells.get(i);
    if (c.type === 'code' && !c.executionCount) return false;
  }}
  return !(w.content.node.innerText || '').includes('Loading widget'); }}"""

JS_STATE = """() => { const app = window.jupyterapp;
  if (!app) return 'no window.jupyterapp';
  const w = app.shell.currentWidget;
  if (!w || !w.content || !w.content.model) return 'current widget: ' + (w && w.id);
  const sc = w.sessionContext, k = sc && sc.session && sc.session.kernel;
  const counts = [];
  const cells = w.content.model.cells;
  for (let i = 0; i < cells.length; i++) counts.push(cells.get(i).executionCount);
  return 'kernel ' + (k ? k.status + '/' + k.connectionStatus : 'none') + ', execution counts '
    + JSON.stringify(counts) + ', loading widgets: '
    + (w.content.node.innerText || '').includes('Loading widget'); }"""

JS_ERRORS = f"""() => {{ {_PANEL}
  const out = [];
  const cells = w.content.model.cells;
  for (let i = 0; i < cells.length; i++) {{
    const js = cells.get(i).toJSON();
    for (const o of (js.outputs || [])) {{
      if (o.output_type === 'error') out.push(i + ': ' + o.ename + ': ' + o.evalue);
      if (o.output_type === 'stream' && o.name === 'stderr') out.push(i + ': stderr: ' + o.text);
    }}
  }}
  return out; }}"""


@pytest.fixture(scope="module", params=list(UIS))
def page(request):
    """A browser page with ``widgets.ipynb`` open and all its cells run."""
    ui = request.param
    why = _missing(ui)
    if why:
        pytest.skip("browser test skipped: " + "; ".join(why))
    from playwright.sync_api import sync_playwright  # noqa: PLC0415
    deadline = Deadline(SESSION_BUDGET)
    tmp = Path(tempfile.mkdtemp(prefix="nbag-e2e-"))
    server = JupyterServer(ui, tmp)
    pw = ctx = None
    timings = {}
    t0 = time.monotonic()
    try:
        server.prepare()
        server.start(deadline)
        timings["server"] = time.monotonic() - t0
        pw = sync_playwright().start()
        env = dict(os.environ, XDG_CONFIG_HOME=str(tmp / "xdg-config"),
                   XDG_CACHE_HOME=str(tmp / "xdg-cache"))
        ctx = pw.chromium.launch_persistent_context(
            str(tmp / "chromium-profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, env=env, viewport={"width": 1280, "height": 1000},
            timeout=deadline.ms(60_000))
        pg = ctx.pages[0] if ctx.pages else ctx.new_page()
        pg.set_default_timeout(STEP_TIMEOUT_MS)
        pg.goto(f"{server.base}{UIS[ui][2]}?token={server.token}", timeout=deadline.ms(60_000))
        _wait(pg, JS_KERNEL_IDLE, deadline, "the notebook to open with an idle kernel")
        timings["notebook open"] = time.monotonic() - t0
        pg.evaluate(JS_RUN_ALL)
        _wait(pg, JS_ALL_DONE, deadline, "all cells to run")
        _wait(pg, "() => document.querySelectorAll('.nbag-graph svg g.node').length > 0",
              deadline, "the graphs to render")
        timings["all cells run"] = time.monotonic() - t0
        pg.ui, pg.deadline, pg.timings = ui, deadline, timings
        yield pg
    finally:
        for what in (ctx, pw):
            try:
                if what is ctx and ctx is not None:
                    ctx.close()
                elif what is pw and pw is not None:
                    pw.stop()
            except Exception:  # noqa: BLE001 - cleanup goes on regardless
                pass
        server.stop()
        timings["total"] = time.monotonic() - t0
        sys.stderr.write(f"\n[e2e {ui}] " + ", ".join(f"{k} {v:.1f}s"
                                                      for k, v in timings.items()) + "\n")
        shutil.rmtree(tmp, ignore_errors=True)


def _wait(pg, js: str, deadline: Deadline, what: str) -> None:
    """Wait (bounded) for ``js`` to be true; on timeout fail with the notebook's state."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: PLC0415
    try:
        pg.wait_for_function(js, timeout=deadline.ms(60_000), polling=250)
    except PlaywrightTimeout:
        try:
            state = pg.evaluate(JS_STATE)
        except Exception as e:  # noqa: BLE001
            state = f"(state unavailable: {e})"
        pytest.fail(f"timed out waiting for {what}: {state}")


def _cell_of(page, css: str):
    """The notebook cell whose output holds ``css``."""
    return page.locator(".jp-Cell", has=page.locator(css)).first


def _shoot(page, css: str, name: str) -> None:
    """A screenshot of the cell showing ``css`` (JupyterLab run only) for the README."""
    if page.ui != "lab":
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    cell = _cell_of(page, css)
    cell.scroll_into_view_if_needed(timeout=page.deadline.ms())
    cell.screenshot(path=str(SHOTS / name), timeout=page.deadline.ms())


def _wait_text(page, css: str, text: str, exact: bool = False) -> None:
    """Wait (bounded) until the first element matching ``css`` shows ``text`` (each widget
    part is its own message from the kernel: they arrive one by one)."""
    cond = "=== t" if exact else ".includes(t)"
    _wait(page, f"() => {{ const e = document.querySelector({json.dumps(css)}); "
                f"const t = {json.dumps(text)}; return !!e && e.textContent{cond}; }}",
          page.deadline, f"{css} to show {text!r}")


def _move_slider(page, css: str, fraction: float) -> None:
    """Drag the handle of the slider in ``css`` to ``fraction`` of its track, as a person
    would (Notebook 7 keeps the arrow keys for itself)."""
    track = page.locator(f"{css} .noUi-base").first
    handle = page.locator(f"{css} .noUi-handle").first
    track.scroll_into_view_if_needed(timeout=page.deadline.ms())
    t, h = track.bounding_box(), handle.bounding_box()
    x0, y0 = h["x"] + h["width"] / 2, h["y"] + h["height"] / 2
    x1 = t["x"] + t["width"] * fraction
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(1, 9):
        page.mouse.move(x0 + (x1 - x0) * k / 8, y0)
    page.mouse.up()


# --- the checks ----------------------------------------------------------------------------
def test_cells_ran_and_every_graph_is_visible(page):
    assert page.evaluate(JS_ERRORS) == []
    graphs = page.locator(".nbag-graph svg")
    assert graphs.count() == 4      # GraphWidget, TapePlayer, GradAccumulator, explore
    for i in range(4):
        svg = graphs.nth(i)
        assert svg.is_visible()
        box = svg.bounding_box()
        assert box is not None and box["width"] > 50 and box["height"] > 50
        assert svg.locator("g.node").count() >= 3
    # the live GraphWidget redrew after the next cell's backward: the gradient is on x
    live = page.locator(".nbag-graph-widget svg").first
    assert "grad -1.325" in live.text_content()
    _shoot(page, ".nbag-graph-widget", "graph-widget.png")


def test_accumulator_backward_clicks_accumulate(page):
    acc = page.locator(".nbag-grad-accumulator")
    values = acc.locator(".nbag-acc-list")
    retain = acc.locator("button.nbag-backward-retain")
    retain.click(timeout=page.deadline.ms())
    _wait_text(page, ".nbag-acc-list", "-1.3254", exact=True)
    retain.click(timeout=page.deadline.ms())
    _wait_text(page, ".nbag-acc-list", "-1.3254, -2.6509", exact=True)
    assert values.text_content() == "-1.3254, -2.6509"
    _wait_text(page, ".nbag-grad-accumulator .nbag-chart", "-2.6509")      # and the chart
    # backward() frees the graph; a second backward() shows PyTorch's error in the widget
    plain = acc.locator("button.nbag-backward")
    plain.click(timeout=page.deadline.ms())
    _wait_text(page, ".nbag-acc-list", "-1.3254, -2.6509, -3.9763", exact=True)
    plain.click(timeout=page.deadline.ms())
    _wait_text(page, ".nbag-grad-accumulator .nbag-acc-status",
               "Trying to backward through the graph a second time")
    assert acc.locator(".nbag-error").is_visible()
    assert values.text_content() == "-1.3254, -2.6509, -3.9763"
    _shoot(page, ".nbag-grad-accumulator", "grad-accumulator.png")


def test_jacobian_selector_adds_a_row(page):
    jac = page.locator(".nbag-jacobian-explorer")
    caption = jac.locator(".nbag-jacobian caption")
    assert "1 of 3 rows computed" in caption.text_content()
    filled = ("() => Array.from(document.querySelectorAll('.nbag-jacobian tr')).slice(1)"
              ".filter(r => r.querySelectorAll('td.pending').length === 0).length")
    assert page.evaluate(filled) == 1
    _move_slider(page, ".nbag-jacobian-selector", 0.5)          # y index 0 -> 1
    _wait(page, f"() => ({filled})() === 2", page.deadline, "a second Jacobian row")
    assert "2 of 3 rows computed" in caption.text_content()
    assert "▶ y[1]" in jac.locator(".nbag-jacobian").text_content()
    _wait_text(page, ".nbag-jacobian-check", "the 2 rows computed so far match")
    _shoot(page, ".nbag-jacobian-explorer", "jacobian-explorer.png")


def test_tape_player_steps_to_a_backward_node(page):
    tp = page.locator(".nbag-tape-player")
    title = tp.locator(".nbag-step-title")
    assert "step 1 of 7" in title.text_content()
    nxt = tp.locator("button.nbag-step-next")
    for _ in range(4):
        nxt.click(timeout=page.deadline.ms())
    _wait_text(page, ".nbag-tape-player .nbag-step-title", "step 5 of 7")
    assert "CosBackward0" in title.text_content()
    _wait_text(page, ".nbag-tape-player .nbag-step .nbag-sent", "-0.9093")
    _wait(page, "() => document.querySelectorAll('.nbag-tape-player svg "
                "[stroke=\"#f97316\"]').length > 0", page.deadline, "the highlighted node")
    _shoot(page, ".nbag-tape-player", "tape-player.png")


def test_explore_slider_updates_values(page):
    ex = page.locator(".nbag-explorer")
    value = ex.locator(".nbag-value")
    before = value.text_content()
    data_before = ex.locator(".nbag-graph svg").text_content()
    _move_slider(page, ".nbag-explore-slider", 0.6)
    _wait(page, f"() => document.querySelector('.nbag-explorer .nbag-value')"
                f".textContent !== {json.dumps(before)}", page.deadline, "a new value")
    _wait(page, f"() => document.querySelector('.nbag-explorer .nbag-graph svg')"
                f".textContent !== {json.dumps(data_before)}", page.deadline,
          "the graph redrawn with the new values")
    assert value.text_content() != before
    _shoot(page, ".nbag-explorer", "explore.png")
