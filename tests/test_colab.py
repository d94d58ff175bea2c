"""Colab: every milestone notebook opens in Colab from settings.ini's repository and branch, and its GPU cells pick their precision
the way the CLI does.

tools/colab.py writes the badge and the hidden install cell from settings.ini; these tests keep the notebooks in sync with it (the URL
check in tests/test_urls.py then holds for them too), and check that a `#| gpu` cell never hard-codes fp16/bf16: on a T4 (compute
capability 7.5) `resolve_precision` gives fp16, on Ampere and newer bf16 (tested on the CPU in nbs/00b_core.ipynb).
"""
import json, re, shutil, sys
from pathlib import Path

from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools')); sys.path.insert(0, str(ROOT/'tests'))
import colab
from test_urls import url_defects

def cells(f): return json.loads(Path(f).read_text(encoding='utf-8'))['cells']

def test_colab_cells_in_sync_with_settings():
    assert colab.milestone_notebooks(), 'no milestone notebooks found'
    bad = colab.defects()
    assert not bad, '\n'.join(f'{rel}: {why}; run: python tools/colab.py' for rel, why in bad)

def test_badge_opens_this_notebook_and_install_cell_is_valid_ipython():
    cfg = colab.read_settings()
    for f in colab.milestone_notebooks():
        cs = cells(f); t = colab._title_index({'cells': cs})
        badge, install = colab._src(cs[t+1]), colab._src(cs[t+2])
        assert f'/blob/{cfg["branch"]}/nbs/{f.name})' in badge, (f.name, badge)
        assert f'git clone -q --depth 1 -b {cfg["branch"]} {cfg["git_url"]} ' in install, (f.name, install)
        compile(TransformerManager().transform_cell(install), f.name, 'exec')  # the `!` lines inside `if` are IPython's
        assert ('[gguf]' in install) == any('llama_cpp' in colab._src(c) for c in cs), f.name

def test_settings_change_is_found_and_rewritten(tmp_path):
    "A fork (another user, another branch): the check fails, the tool rewrites the cells, the URL check agrees with the new settings"
    (tmp_path/'nbs').mkdir()
    for n in ('00_config.ipynb', '07_export.ipynb'): shutil.copy(ROOT/'nbs'/n, tmp_path/'nbs'/n)
    ini = (ROOT/'settings.ini').read_text()
    ini = re.sub(r'(?m)^user = .*$', 'user = someone', re.sub(r'(?m)^branch = .*$', 'branch = dev', ini))
    (tmp_path/'settings.ini').write_text(ini.replace('github.com/ft-pipeline/', 'github.com/someone/'))
    cfg, files = colab.read_settings(tmp_path), sorted((tmp_path/'nbs').glob('*.ipynb'))
    assert [r for r, _ in colab.defects(tmp_path)] == ['nbs/00_config.ipynb', 'nbs/07_export.ipynb']
    assert url_defects(cfg, files), 'the URL check should see the old repository in the copied notebooks'
    ids = [[c['id'] for c in cells(f)] for f in files]
    assert colab.write(tmp_path) == ['nbs/00_config.ipynb', 'nbs/07_export.ipynb']
    assert colab.defects(tmp_path) == [] and url_defects(cfg, files) == [] and colab.write(tmp_path) == []
    assert [[c['id'] for c in cells(f)] for f in files] == ids  # cells keep their ids and order
    assert 'colab.research.google.com/github/someone/ft_pipeline/blob/dev/nbs/07_export.ipynb' in json.dumps(cells(files[1]))

_re_prec = re.compile(r'''torch\.(b?float16|half)\b|['"](fp16|bf16)['"]''')

def test_gpu_cells_take_precision_from_resolve_precision():
    "`#| gpu` cells choose fp16 (T4) or bf16 (Ampere+) through resolve_precision, as the CLI does; none hard-codes one"
    gpu = [(f.name, colab._src(c)) for f in colab.milestone_notebooks() for c in cells(f)
           if c['cell_type'] == 'code' and re.search(r'(?m)^#\|\s*gpu\b', colab._src(c))]
    assert gpu, 'no #| gpu cells found'
    assert any('resolve_precision(' in s for _, s in gpu)
    bad = [(n, m.group()) for n, s in gpu for m in _re_prec.finditer(s)]
    assert not bad, f'#| gpu cells with a hard-coded precision (use resolve_precision): {bad}'
