"""The fault table of nbs/08_pipeline: run the fault suite (tests/test_faults.py), collect one row per injected fault, write
bench/results/faults.json (machine and date included) and print the table as markdown.

    python bench/fault_table.py        # run it under the heavy lock: flock /work/heavy.lock python bench/fault_table.py
"""
import datetime, json, os, platform, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def table(rows: list[dict]) -> str:
    "The rows as a markdown table."
    yn = lambda v: '-' if v is None else 'yes' if v else '**no**'
    L = ['| fault | exit | message | intact | rerun = uninterrupted | traceback |', '|---|---|---|---|---|---|']
    L += [f"| {r['fault']} | {r['exit_code']} | {r['message'].replace('|', '/')} | {r['intact']} | {yn(r['rerun_equal'])} | "
          f"{'**yes**' if r['traceback'] else 'no'} |" for r in rows]
    return '\n'.join(L)

def main():
    rows_file = Path(tempfile.mkdtemp())/'rows.jsonl'
    t0 = time.time()
    r = subprocess.run([sys.executable, '-m', 'pytest', str(ROOT/'tests'/'test_faults.py'), '-q', '-p', 'no:cacheprovider'],
                       cwd=ROOT, env={**os.environ, 'FT_FAULT_TABLE': str(rows_file)})
    rows = [json.loads(l) for l in rows_file.read_text().splitlines()] if rows_file.exists() else []
    res = {'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'), 'machine': platform.platform(),
           'cpus': os.cpu_count(), 'pytest_exit_code': r.returncode, 'seconds': round(time.time() - t0, 1), 'faults': len(rows),
           'lost_checkpoints': sum('checkpoint' in r['intact'] and r['rerun_equal'] is False for r in rows),
           'tracebacks_at_exit_2': sum(r['traceback'] and r['exit_code'] == 2 for r in rows), 'rows': rows}
    (ROOT/'bench'/'results'/'faults.json').write_text(json.dumps(res, indent=1) + '\n')
    print(table(rows))
    print(f"\n{len(rows)} faults, pytest exit {r.returncode}, {res['seconds']} s")
    return r.returncode

if __name__ == '__main__': sys.exit(main())
