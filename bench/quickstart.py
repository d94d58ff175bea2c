"""The quickstart as a user runs it, timed: `ft-pipeline run configs/quickstart.yaml` in a fresh output directory, one process.

Issue 16's goal: under 5 minutes on a 2-core CPU, with exact match >= 0.8 and the forgetting check not flagged.
    flock /work/heavy.lock python bench/quickstart.py          # ~15 min on the 2-core AMD VM of 2026-12-03
-> bench/results/quickstart.json: the machine, its measured fp32 matmul peak, the date, the command's wall time, each stage's seconds and
peak RSS (from the stage markers the pipeline writes), exact match base -> tuned and the forgetting check (from reports/eval.json).
The bundled model's one-time GGUF -> HF conversion is cached outside the output directory, so it is not in the time after a first run
(as for a user's second run); `--set` overrides go to the command unchanged; `--keep DIR` runs in DIR and keeps it (reports, pictures).
"""
import argparse, json, subprocess, sys, tempfile, time
from datetime import datetime, timezone
from pathlib import Path

from machine import describe, matmul_peak
from ft_pipeline.pipeline import STAGES

ROOT = Path(__file__).resolve().parents[1]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--set', action='append', default=[], help='section.key=value, passed to ft-pipeline run')
    ap.add_argument('--out', type=Path, default=ROOT/'bench'/'results'/'quickstart.json')
    ap.add_argument('--keep', type=Path, help='run in this (new) directory and keep it, e.g. for its reports and pictures; default: a temporary one')
    a = ap.parse_args()
    import torch
    peak = matmul_peak(('fp32',))['fp32']   # before the run, on the otherwise idle machine
    if a.keep and a.keep.exists(): raise SystemExit(f'--keep {a.keep} exists: the timing needs a fresh output directory')
    with tempfile.TemporaryDirectory(prefix='ftp_quickstart_') as d:
        run = a.keep.resolve() if a.keep else Path(d)/'run'
        cmd = [str(Path(sys.executable).parent/'ft-pipeline'), 'run', 'configs/quickstart.yaml', '--set', f'output_dir={run}']
        cmd += [x for s in a.set for x in ('--set', s)]
        t0 = time.perf_counter(); r = subprocess.run(cmd, cwd=ROOT); wall = time.perf_counter() - t0
        if r.returncode != 0: raise SystemExit(f'{" ".join(cmd)} exited with {r.returncode}')
        marks = {s: json.loads((run/'stages'/f'{s}.json').read_text()) for s in STAGES}
        ev = json.loads((run/'reports'/'eval.json').read_text())
    em = {k: ev['task_metrics'][k]['exact_match'] for k in ('base', 'tuned')}
    res = {'date': datetime.now(timezone.utc).isoformat(timespec='minutes'), 'machine': describe(), 'torch': torch.__version__,
           'matmul_gflops_fp32': peak, 'command': 'ft-pipeline run configs/quickstart.yaml' + ''.join(f' --set {s}' for s in a.set),
           'wall_seconds': wall, 'stages': {s: {'seconds': m['seconds'], 'peak_rss_mb': m.get('peak_rss_mb')} for s, m in marks.items()},
           'exact_match': em, 'forgetting': ev['forgetting'], 'comparison': ev['comparison'],
           'goals': {'under_5_min': wall <= 300, 'exact_match_0_8': em['tuned'] >= 0.8, 'forgetting_not_flagged': not ev['forgetting']['flagged']}}
    a.out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))

if __name__ == '__main__':
    main()
