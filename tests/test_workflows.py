"""The GitHub workflows run what developers run: `make test` in CI, `make docs` for the site, published from settings.ini's doc_path."""
import configparser, re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

def workflow(name):
    wf = yaml.safe_load((ROOT/'.github'/'workflows'/name).read_text())
    return wf, wf.get('on', wf.get(True))  # YAML 1.1 reads the key `on` as True

def runs(wf): return [s['run'] for job in wf['jobs'].values() for s in job['steps'] if 'run' in s]

def make_targets(): return set(re.findall(r'^([\w-]+):', (ROOT/'Makefile').read_text(), re.MULTILINE))

def test_ci_runs_make_test():
    wf, on = workflow('test.yaml')
    assert {'push', 'pull_request'} <= set(on)
    assert [r for r in runs(wf) if r.startswith('make ')] == ['make test TORCH=torch'] and 'test' in make_targets()

def test_deploy_builds_with_make_docs_and_publishes_doc_path():
    wf, on = workflow('deploy.yaml')
    assert on['push']['branches'] == ['main']
    assert [r for r in runs(wf) if r.startswith('make ')] == ['make docs TORCH=torch'] and 'docs' in make_targets()
    steps = [s for job in wf['jobs'].values() for s in job['steps']]
    assert any(s.get('uses', '').startswith('quarto-dev/quarto-actions/setup') for s in steps)
    cp = configparser.ConfigParser(delimiters=['=']); cp.read(ROOT/'settings.ini')
    publish = [s['with'] for s in steps if s.get('uses', '').startswith('peaceiris/actions-gh-pages')]
    assert publish and publish[0]['publish_dir'] == f'./{cp["DEFAULT"]["doc_path"]}'
