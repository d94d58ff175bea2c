"""Evaluate-stage speed on the quickstart: today's `evaluate` (the code at --before) and this checkout's, side by side in one run, on
the same prepared and trained quickstart run directory, each in a fresh process; predictions compared prompt by prompt, reported numbers
compared metric by metric.
Run (one command, under the heavy lock; it prepares and trains the quickstart run first when --run has no adapter, ~5 min):
    flock /work/heavy.lock python bench/eval_speed.py [--run DIR] [--before COMMIT] [--at NAME=COMMIT] [--also NAME:section.key=value,...]
-> bench/results/eval_speed.json (machine, date, per variant: process and stage seconds, where the time went, agreement with --before)"""
import argparse, datetime, json, os, platform, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE = '8e9610a'   # main on 2026-12-02 before this work: HF generate in batches of evaluation.batch_size, chrF bootstrap by corpus_score

# The child: evaluate(cfg) on one variant's run directory, with the stage's own functions wrapped to time them (not changed).
CHILD = r'''
import json, sys, time
t_start = time.perf_counter()
import ft_pipeline.evaluate as ev
from ft_pipeline.config import load_config
cfg_path, over, dump = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
cfg = load_config(cfg_path, over)
phases, captured = {}, {}
def timed(name, f, keep=False):
    def g(*a, **k):
        t = time.perf_counter(); r = f(*a, **k); phases[name] = phases.get(name, 0.) + time.perf_counter() - t
        if keep: captured[name] = r
        return r
    return g
for name in ('_load_systems', '_test_set', 'score_rows', 'greedy_generate', 'task_metrics', 'compare'): setattr(ev, name, timed(name, getattr(ev, name)))
ev._measure = timed('_measure', ev._measure, keep=True)
t = time.perf_counter(); rep = ev.evaluate(cfg); secs = time.perf_counter() - t
res = captured['_measure']
json.dump({'evaluate_s': secs, 'imports_s': t - t_start, 'phases': phases, 'preds': {n: r['preds'] for n, r in res.items()},
           'samples_per_s': rep.data['samples_per_s'], 'task_metrics': rep.data['task_metrics'], 'perplexity': rep.data['perplexity'],
           'forgetting': rep.data['forgetting'], 'comparison': rep.data['comparison'], 'config': {'evaluation': cfg.evaluation.model_dump(),
           'precision': cfg.training.precision}}, open(dump, 'w'))
'''

def sh(*a, **k): return subprocess.run(a, check=True, capture_output=True, text=True, **k).stdout.strip()

def ensure_run(run: Path) -> dict:
    "Prepare and train the quickstart into `run` (this checkout's code) unless it already has an adapter."
    if (run/'adapter'/'adapter_model.safetensors').is_file(): return {'reused': str(run)}
    exe, t, env = str(Path(sys.executable).parent/'ft-pipeline'), {}, {**os.environ, 'PYTHONPATH': str(ROOT)}
    for stage in ('prepare', 'train'):
        t0 = time.perf_counter()
        subprocess.run([exe, stage, 'configs/quickstart.yaml', '--set', f'output_dir={run}'], cwd=ROOT, env=env, check=True)
        t[f'{stage}_s'] = round(time.perf_counter() - t0, 1)
    return t

def run_variant(tree: Path, run: Path, work: Path, name: str, over: dict) -> dict:
    "One fresh process evaluating `run`'s data and adapter (linked into its own directory) with the code in `tree`."
    vdir = work/name; vdir.mkdir(parents=True)
    for d in ('data', 'adapter'): (vdir/d).symlink_to(run/d)
    dump = work/f'{name}.json'
    env = {**os.environ, 'PYTHONPATH': str(tree)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, '-c', CHILD, str(tree/'configs'/'quickstart.yaml'), json.dumps({**over, 'output_dir': str(vdir)}), str(dump)],
                   cwd=tree, env=env, check=True)
    r = json.loads(dump.read_text()); r['process_s'] = time.perf_counter() - t0
    return r

def agreement(a: dict, b: dict) -> dict:
    "Per system: how many predictions of `b` equal `a`'s, and the first differing ones."
    out = {}
    for n in a['preds']:
        diff = [i for i, (x, y) in enumerate(zip(a['preds'][n], b['preds'][n])) if x != y]
        out[n] = {'equal': len(a['preds'][n]) - len(diff), 'of': len(a['preds'][n]),
                  'first_differences': [{'index': i, 'before': a['preds'][n][i], 'now': b['preds'][n][i]} for i in diff[:3]]}
    return out

def summary(r: dict) -> dict:
    ph = {k: round(v, 1) for k, v in r['phases'].items() if k != '_measure'}
    ph['other'] = round(r['evaluate_s'] - sum(v for k, v in r['phases'].items() if k in ('_load_systems', '_test_set', '_measure', 'task_metrics', 'compare')), 1)
    return {'process_s': round(r['process_s'], 1), 'evaluate_s': round(r['evaluate_s'], 1), 'phases_s': ph,
            'samples_per_s': {k: round(v, 2) for k, v in r['samples_per_s'].items()}, 'config': r['config']}

def machine() -> dict:
    import torch, transformers
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor())
    return {'cpu': cpu, 'cores': os.cpu_count(), 'torch_threads': torch.get_num_threads(), 'torch': torch.__version__,
            'transformers': transformers.__version__, 'python': platform.python_version()}

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--run', default='/tmp/ft_eval_speed/quickstart', help='quickstart run directory (prepared and trained here if it has no adapter)')
    ap.add_argument('--before', default=BEFORE, help="commit whose evaluate is today's")
    ap.add_argument('--at', action='append', default=[], help='extra variant: the evaluate of another commit, NAME=COMMIT')
    ap.add_argument('--also', action='append', default=[], help='extra variant of this checkout: NAME:section.key=value,...')
    ap.add_argument('--out', default=str(ROOT/'bench'/'results'/'eval_speed.json'))
    a = ap.parse_args()
    run = Path(a.run).resolve(); train = ensure_run(run)
    work = Path(tempfile.mkdtemp(prefix='eval_speed_'))
    def tree(name: str, commit: str) -> Path:
        t = work/f'{name}_tree'; t.mkdir()
        subprocess.run(f'git -C {ROOT} archive {commit} ft_pipeline configs | tar -x -C {t}', shell=True, check=True)
        return t
    ats = [spec.partition('=')[::2] for spec in a.at]
    variants = [('before', tree('before', a.before), {}), *[(n, tree(n, c), {}) for n, c in ats], ('now', ROOT, {})]
    for spec in a.also:
        name, _, kv = spec.partition(':')
        variants.append((name, ROOT, {k: json.loads(v) if v[:1].isdigit() or v in ('true', 'false') else v
                                       for k, _, v in (p.partition('=') for p in kv.split(',') if p)}))
    res = {name: run_variant(tree, run, work, name, over) for name, tree, over in variants}
    b = res['before']
    out = {'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'), 'machine': machine(),
           'command': 'flock /work/heavy.lock python bench/eval_speed.py ' + ' '.join(sys.argv[1:]), 'run': str(run), 'run_setup': train,
           'before_commit': sh('git', '-C', str(ROOT), 'rev-parse', a.before),
           'other_commits': {n: sh('git', '-C', str(ROOT), 'rev-parse', c) for n, c in ats},
           'now_commit': sh('git', '-C', str(ROOT), 'rev-parse', 'HEAD') + (' (uncommitted changes)' if sh('git', '-C', str(ROOT), 'status', '--porcelain', '--', 'ft_pipeline') else ''),
           'variants': {n: {**summary(r), 'speedup_vs_before': round(b['evaluate_s'] / r['evaluate_s'], 2),
                            'process_speedup_vs_before': round(b['process_s'] / r['process_s'], 2),
                            'predictions_equal_to_before': agreement(b, r),
                            'task_metrics': r['task_metrics'], 'perplexity': r['perplexity'], 'forgetting': r['forgetting'],
                            'verdicts': {k: v['verdict'] for k, v in r['comparison'].items()}} for n, r in res.items()}}
    Path(a.out).write_text(json.dumps(out, indent=1))
    print(json.dumps({n: {k: v[k] for k in ('process_s', 'evaluate_s', 'phases_s', 'speedup_vs_before')} |
                      {'equal': {s: f"{x['equal']}/{x['of']}" for s, x in v['predictions_equal_to_before'].items()}}
                      for n, v in out['variants'].items()}, indent=1))
