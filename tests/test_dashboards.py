"""The live dashboards, checked as a reader sees them: JupyterLab (`make lab`) in headless Chromium runs a notebook and the widgets move.

`make lab LAB_DIR=<tmp>` serves two small demo notebooks; Chromium (the system's, driven by Playwright as in tools/docs_check.py)
opens each, runs all cells from JupyterLab's Run menu (`runmenu:run-all`), and reads the dashboard from the page while the kernel works:
- memory (nbs/03a_memory): `MemoryDashboard` over a monitor whose process grows by 100 MB per stage: the RAM bar, its GB readout
  and the stage log must advance;
- training (nbs/04_train): `train` on a tiny random model (`testing.tiny_run`) for 15 steps: the step counter, the loss curve
  (a new picture) and the memory readout must advance.
Every wait is on a page condition with a deadline. Two screenshots of each dashboard (the first and the last state seen) go to
`_docs_check/dashboards/`, and a screenshot of the whole page where a check fails; nbs/images/ keeps the ones the notebooks show.
Without Chromium the tests SKIP with the command to install it (the docs check's rule; `make test` installs it).
"""
import json, re, sys, time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools')); sys.path.insert(0, str(ROOT/'tests'))
import docs_check
from test_lab import call, serve_lab

SHOTS = ROOT/'_docs_check'/'dashboards'
# the output holding a dashboard: a box with a RAM bar in it (tqdm's progress bars, shown while data and weights load, are bars in a row)
DASH = '.jp-OutputArea-output:has(.widget-vbox .widget-hprogress)'

def notebook(*cells):
    return {'cells': [{'cell_type': 'code', 'execution_count': None, 'id': f'd{i}', 'metadata': {}, 'outputs': [], 'source': c}
                      for i, c in enumerate(cells)],
            'metadata': {'kernelspec': {'display_name': 'Python 3 (ipykernel)', 'language': 'python', 'name': 'python3'}},
            'nbformat': 4, 'nbformat_minor': 5}

MEMORY_NB = notebook(
    "import time, torch\nfrom ft_pipeline.core import MemoryMonitor\nfrom ft_pipeline.memory import MemoryDashboard\n"
    "mon = MemoryMonitor(); mon.predicted = 2e9\ndash = MemoryDashboard(mon)\ndash",
    "keep = []; mon.stage('baseline')\nfor i in range(8):\n"
    "    time.sleep(0.4); keep.append(torch.ones(25_000_000)); mon.stage(f'stage {i + 1}')  # +100 MB each")

TRAIN_NB = notebook(
    "import tempfile\nfrom ft_pipeline.testing import tiny_run\nfrom ft_pipeline.train import train",
    "cfg = tiny_run(tempfile.mkdtemp(), {'data.max_samples': 160, 'training.max_steps': 15, 'training.eval_every': 5,\n"
    "                                    'training.save_every': 15, 'training.report_to': []})\ntrain(cfg);")

@pytest.fixture(scope='module')
def browser():
    exe = docs_check.find_browser()
    if exe is None: pytest.skip(f'SKIP: dashboard checks in JupyterLab need Chromium; install with: {docs_check.INSTALL_HINT}')
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=docs_check.CHROMIUM_ARGS)
        try: yield b
        finally: b.close()

@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "`make lab` serving a folder with the demo notebooks; yields (base URL, token)"
    d = tmp_path_factory.mktemp('labdir')
    (d/'memory_demo.ipynb').write_text(json.dumps(MEMORY_NB)); (d/'train_demo.ipynb').write_text(json.dumps(TRAIN_NB))
    with serve_lab(d/'lab.log', d) as (base, token): yield base, token

def kernel_idle(page, timeout_ms):
    "Wait until JupyterLab's status bar says the notebook's kernel is connected and idle"
    page.locator('.jp-StatusBar-Widget').get_by_text(re.compile(r'\|\s*Idle\s*$')).first.wait_for(timeout=timeout_ms)

def stderr_error(page):
    "The text of a traceback shown in the notebook, or None"
    err = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    for i in range(err.count()):
        if 'Error' in (t := err.nth(i).inner_text()): return t
    return None

def run_demo(browser, lab, name, read, until, timeout=120):
    """Open notebook `name` in JupyterLab, run all cells, and poll the dashboard: `read(element)` -> a state, until `until(state)`.
    Returns the distinct states seen, the last one read after the kernel finished; screenshots of the first and last."""
    base, token = lab
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={'width': 1200, 'height': 900})
    try:
        page.goto(f'{base}/lab/tree/{name}.ipynb?reset&token={token}')
        page.add_style_tag(content='.Toastify { display: none !important; }')  # JupyterLab's news prompt would cover the screenshots
        page.wait_for_selector('.jp-Notebook .jp-Cell', timeout=60_000)
        kernel_idle(page, 60_000)  # cells run before the kernel connects would not run at all
        page.locator('.lm-MenuBar-item', has_text='Run').first.click()
        page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
        el, t0 = page.locator(DASH).first, time.time()
        while not el.count():  # the kernel imports and builds the dashboard; a traceback ends the wait at once
            if (err := stderr_error(page)): pytest.fail(f'{name} failed in JupyterLab:\n{err[-3000:]}')
            if time.time() - t0 > timeout: pytest.fail(f'{name}: no dashboard on the page after {timeout} s')
            time.sleep(0.1)
        seen = [read(el)]
        el.screenshot(path=str(SHOTS/f'{name}-1.png'))
        while not until(seen[-1]):
            if (err := stderr_error(page)): pytest.fail(f'{name} failed in JupyterLab:\n{err[-3000:]}')
            if time.time() - t0 > timeout: pytest.fail(f'{name}: the dashboard stopped at {seen[-1]} after {timeout} s; states seen: {seen}')
            if (s := read(el)) != seen[-1]: seen.append(s)
            time.sleep(0.1)
        kernel_idle(page, timeout * 1000)  # the run is over: what the dashboard shows now is its final state
        if (s := read(el)) != seen[-1]: seen.append(s)
        el.screenshot(path=str(SHOTS/f'{name}-2.png'))
        return seen
    except BaseException:
        page.screenshot(path=str(SHOTS/f'{name}-failed.png'))
        raise
    finally:
        page.close()
        for k in json.loads(call(base, '/api/kernels', token)[1]): call(base, f'/api/kernels/{k["id"]}', token, method='DELETE')

def _gb(text):
    "The RAM readout, '1.28 / 25.28 GB' -> 1.28"
    m = re.search(r'([\d.]+) / [\d.]+ GB', text)
    return float(m[1]) if m else None

def test_memory_dashboard_moves_in_jupyterlab(browser, lab):
    def read(el):
        text = el.inner_text()
        width = el.locator('.widget-hprogress .progress-bar').first.evaluate('e => parseFloat(e.style.width) || 0')
        return _gb(text), text.count(': RSS '), round(width, 2)
    seen = run_demo(browser, lab, 'memory_demo', read, until=lambda s: s[1] >= 9)
    first, last = seen[0], seen[-1]
    assert last[1] == 9, seen                                            # baseline + 8 stages logged
    assert len({s[1] for s in seen}) >= 4, seen                          # and seen arriving one by one, not only at the end
    assert last[0] - (first[0] or 0) > 0.5 and last[2] > first[2], seen  # +800 MB: the readout and the bar grew

def test_training_dashboard_moves_in_jupyterlab(browser, lab):
    def read(el):
        text, img = el.inner_text(), el.locator('img')
        m = re.search(r'step (\d+)/(\d+)', text)
        return int(m[1]) if m else 0, img.first.get_attribute('src')[-300:] if img.count() else None, _gb(text)
    seen = run_demo(browser, lab, 'train_demo', read, until=lambda s: s[0] == 15, timeout=240)
    steps = [s[0] for s in seen]
    assert steps == sorted(steps) and steps[-1] == 15 and len(set(steps)) >= 4, seen   # the step counter advanced, live
    assert len({s[1] for s in seen if s[1]}) >= 2, seen                                 # the loss curve was redrawn
    assert len({s[2] for s in seen if s[2]}) >= 2, seen                                 # the memory readout moved
