"""tools/docs_check.py finds what a reader would see: planted defects fail the check, the same project without them passes.

A tiny nbdev project goes through the real pipeline (nbdev's `proc_nbs`, then the check): one clean page, and one page with a
raw `#| export` line, a `# %%` marker, a blank figure, a saved traceback, a show_doc that lost its output and no description;
a link to an anchor that is not there (a warning); the sidebar links to a notebook that does not exist.
"""
import base64, io, json, shutil, subprocess, sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT/'tools'/'docs_check.py'
sys.path.insert(0, str(ROOT/'tools'))
import docs_check

SETTINGS = """[DEFAULT]
repo = demo
lib_name = demo
lib_path = demo
nbs_path = nbs
doc_path = _docs
recursive = True
branch = main
custom_sidebar = False
doc_host = https://example.github.io
doc_baseurl = /demo
git_url = https://github.com/example/demo
title = demo
user = example
version = 0.0.1
"""

def png(pixels):
    "A PNG as base64, for a saved `image/png` output"
    buf = io.BytesIO(); Image.fromarray(pixels.astype('uint8')).save(buf, format='PNG')
    return base64.b64encode(buf.getvalue()).decode()

def md(src): return {'cell_type': 'markdown', 'metadata': {}, 'source': src}
def code(src, outputs=()): return {'cell_type': 'code', 'metadata': {}, 'source': src, 'outputs': list(outputs), 'execution_count': None}
def image(b64): return {'output_type': 'display_data', 'metadata': {}, 'data': {'image/png': b64, 'text/plain': '<Figure>'}}

def write_nb(path, cells):
    for i, c in enumerate(cells): c['id'] = f'c{i:03d}'
    path.write_text(json.dumps({'cells': cells, 'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}},
                                'nbformat': 4, 'nbformat_minor': 5}, indent=1))

def good_nb(np):
    "A page as our notebooks should be: title, subtitle, an exported function with its doc, a real plot, a link to a sibling page"
    x = np.linspace(0, 1, 120)
    plot = np.full((80, 120), 255.0); plot[(60 - 50*x**2).astype(int), np.arange(120)] = 0; plot[:, 0] = plot[-1, :] = 0
    return [md('# Good page\n\n> Everything a reader needs.'),
            code('#| default_exp good'),
            md('Why `scale` exists; its [signature](00_good.ipynb#scale).'),
            code('#| export\ndef scale(x:float, k:float=2.0):\n    "Multiply `x` by `k`"\n    return x*k'),
            code('scale(3)', [{'output_type': 'execute_result', 'metadata': {}, 'execution_count': None, 'data': {'text/plain': '6.0'}}]),
            code('plot_it()', [image(png(np.stack([plot]*3, -1)))])]

def bad_nb(np):
    tb = ['Traceback (most recent call last):', '  File "<cell>", line 1, in <module>', 'ValueError: n_prompt > len(ids)']
    return [md('# Bad page'),                                             # no `> description`
            code('#| export\ndef shift(x:int):\n    "Add one"\n    return x + 1'),
            code('y = 1\n#| export\ndef helper(): pass'),                # a directive that is not at the top: shown raw
            code('# %%\nz = 2'),                                            # a script's cell marker in a code cell
            md('# %% a cell marker pasted from a script\n\nSee [the good page](00_good.ipynb#nope).'),   # an anchor that is not there
            code('show_blank()', [image(png(np.full((60, 90, 3), 255)))]),   # a blank figure
            code('mask_prompt(ids, 99)', [{'output_type': 'error', 'ename': 'ValueError', 'evalue': 'n_prompt > len(ids)', 'traceback': tb}])]

@pytest.fixture(scope='module')
def project(tmp_path_factory):
    "A tiny nbdev project processed by nbdev itself (proc_nbs), as `make docs-check` does"
    np = pytest.importorskip('numpy')
    root = tmp_path_factory.mktemp('site')
    (root/'settings.ini').write_text(SETTINGS)
    nbs = root/'nbs'; nbs.mkdir()
    write_nb(nbs/'00_good.ipynb', good_nb(np))
    write_nb(nbs/'01_bad.ipynb', bad_nb(np))
    (nbs/'styles.css').write_text('.cell { margin-bottom: 1rem; }\n')
    subprocess.run([sys.executable, '-c', "from nbdev.serve import proc_nbs; proc_nbs('nbs', n_workers=1, force=True)"], cwd=root, check=True)
    # a show_doc whose output was lost (what a failing or filtered show_doc cell leaves): drop it from the processed page
    p = root/'_proc'/'01_bad.ipynb'; nb = json.loads(p.read_text())
    sd = [c for c in nb['cells'] if 'show_doc(shift)' in ''.join(c['source'])]
    assert sd, 'nbdev added no show_doc(shift) cell'
    sd[0]['outputs'] = []; p.write_text(json.dumps(nb))
    return root

def run_check(root, sidebar, *args):
    (root/'nbs'/'sidebar.yml').write_text('website:\n  sidebar:\n    contents:\n' + ''.join(f'      - {e}\n' for e in sidebar))
    shutil.rmtree(root/'_docs_check', ignore_errors=True)
    r = subprocess.run([sys.executable, str(TOOL), *args], cwd=root, capture_output=True, text=True, timeout=600)
    return r.returncode, r.stdout + r.stderr

def defects_of(out, page):
    "The defect lines the check printed under `page`"
    lines, res, on = out.splitlines(), [], False
    for l in lines:
        if l.startswith(('FAIL ', 'ok   ')): on = l.split()[1] == page
        elif on and l.startswith('       - '): res.append(l.strip()[2:])
    return res

PLANTED = {'raw `#|` directive visible', '`# %%` cell marker visible', 'show_doc(shift)', 'no description', 'error output'}

def assert_planted_found(rc, out, with_browser):
    assert rc == 1, out
    assert defects_of(out, '00_good.ipynb') == [], out
    found = '\n'.join(defects_of(out, '01_bad.ipynb'))
    for what in PLANTED: assert what in found, f'{what!r} not reported:\n{out}'
    assert ('blank as shown' in found) == with_browser, out
    assert "sidebar.yml lists '99_gone.ipynb'" in out and "link '99_gone.html'" in out, out
    assert "warning: link 'good.html#nope' ('the good page'): good.html has no anchor #nope" in out, out  # reported, not failing

def test_static_checks_find_planted_defects(project):
    rc, out = run_check(project, ['00_good.ipynb', '01_bad.ipynb', '99_gone.ipynb'], '--no-browser')
    assert_planted_found(rc, out, with_browser=False)
    assert 'SKIP: browser checks' in out

def test_clean_project_passes(project):
    "Without the bad page the same project passes: what failed above was the planted defects"
    moved = [(project/d/'01_bad.ipynb', project/f'01_bad.{d}') for d in ('nbs', '_proc')]
    for a, b in moved: a.rename(b)
    try: rc, out = run_check(project, ['00_good.ipynb'], *(['--no-browser'] if docs_check.find_browser() is None else []))
    finally:
        for a, b in moved: b.rename(a)
    assert rc == 0, out
    assert 'ok   00_good.ipynb -> good.html (1 show_doc' in out and '0 sidebar defects, 0 warnings' in out, out

def test_browser_finds_planted_defects_and_keeps_screenshots(project):
    if docs_check.find_browser() is None: pytest.skip(f'no Chromium for the browser checks: install with: {docs_check.INSTALL_HINT}')
    rc, out = run_check(project, ['00_good.ipynb', '01_bad.ipynb', '99_gone.ipynb'])
    assert_planted_found(rc, out, with_browser=True)
    assert 'ok   00_good.ipynb -> good.html (1 show_doc, 1 figures)' in out, out
    for name in ('good.png', 'bad.png'):
        shot = Image.open(project/'_docs_check'/name)
        assert shot.size[0] == 1400 and shot.size[1] > 300, shot.size
    report = (project/'_docs_check'/'report.md').read_text()
    assert '## 01_bad.ipynb -> bad.html: defects' in report and '## 00_good.ipynb -> good.html: ok' in report
