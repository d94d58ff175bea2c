"""Does `prepare` stream? A generated ~2 GiB alpaca-style JSONL through `prepare` with the bundled tokenizer: peak RSS and samples/s.

Goals (issue 12, item 5): peak RSS <= 1.5 GB and >= 2,000 samples/s on this project's 2-core machine.

Run (one command, under the shared CPU lock):  flock /work/heavy.lock .venv/bin/python bench/prepare_large.py
Options: --gib 2.0 (file size), --profile-rows 100000 (rows of the profiled run; 0 skips it), --cgroup-gib 1.5 (0: no cgroup).
Writes bench/results/prepare_large.json.

The JSONL (the rows of bench/prepare_throughput.py, in chunks of 10,000 with a new seed each) is written first and not timed. `prepare`
then runs in a child process with the quickstart's data settings (max_length 256, validation_split 0.1, near-duplicate threshold 0.9), so
its peak RSS is its own: ru_maxrss of the child, imports included; the child's anonymous and file-backed resident memory
(/proc/PID/status) are sampled every second for the timeline. The child runs inside a memory cgroup limited to --cgroup-gib (as root,
where the cgroup-v1 memory controller is writable), the way a small VM or container would hold it: file-backed pages (the Arrow files
datasets reads through memory maps) are then reclaimed at the limit, and anonymous memory over it would get the child OOM-killed.
samples/s = rows read / the child's wall time. A second child runs `prepare` under cProfile on the first --profile-rows rows and the
result lists where the time goes, by stage and by function.
"""
import argparse, cProfile, io, itertools, json, os, platform, pstats, resource, shutil, subprocess, sys, tempfile, threading, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

def write_jsonl(path: Path, gib: float) -> int:
    "Write alpaca-style rows to `path` until it holds `gib` GiB; the number of rows."
    from prepare_throughput import alpaca_rows
    n, limit = 0, int(gib * 2**30)
    with open(path, 'w') as f:
        for k in itertools.count():
            for row in alpaca_rows(10_000, seed=k):
                f.write(json.dumps(row) + '\n'); n += 1
            if f.tell() >= limit: return n

def child(cfg_json: str, profile_out: str | None):
    "Run prepare (optionally under cProfile) on the config in `cfg_json`; print its report as JSON."
    import datasets
    from ft_pipeline.config import Config
    from ft_pipeline.data import prepare
    datasets.disable_progress_bars()
    cfg = Config.model_validate(json.loads(cfg_json))
    if profile_out:
        prof = cProfile.Profile(); rep = prof.runcall(prepare, cfg); prof.dump_stats(profile_out)
    else: rep = prepare(cfg)
    print(json.dumps({'read': rep.read, 'kept': rep.kept, 'dropped': rep.dropped, 'sizes': rep.sizes, 'unaccounted': rep.unaccounted(),
                      'tokens': rep.lengths.get('tokens'), 'seconds': rep.seconds}))

def proc_mem(pid: int) -> tuple[int, int]:
    "(anonymous, file-backed) resident memory of process `pid` in MiB, from /proc/PID/status."
    v = {}
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith(('RssAnon:', 'RssFile:')): v[line.split(':')[0]] = int(line.split()[1]) // 1024
    return v['RssAnon'], v['RssFile']

CGROUPS = Path('/sys/fs/cgroup/memory')  # cgroup v1 memory controller (this machine's layout)

def make_cgroup(gib: float) -> Path | None:
    "A memory cgroup limited to `gib` GiB, or None where none can be made (no cgroup-v1 memory controller, not root)."
    if not (CGROUPS/'cgroup.procs').exists() or os.geteuid() != 0: return None
    cg = CGROUPS/f'ft_prepare_large_{os.getpid()}'
    cg.mkdir(exist_ok=True); (cg/'memory.limit_in_bytes').write_text(str(int(gib * 2**30)))
    return cg

def run_child(cfg: dict, profile_out: str | None = None, cgroup: Path | None = None) -> dict:
    "Run `child` in a fresh process (inside `cgroup`); its report, wall time, memory timeline ((s, anon MiB, file-backed MiB), every second)."
    args = [sys.executable, __file__, '--child', json.dumps(cfg)] + (['--profile-out', profile_out] if profile_out else [])
    enter = (lambda: (cgroup/'cgroup.procs').write_text(str(os.getpid()))) if cgroup else None
    t0 = time.perf_counter()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=enter)
    timeline = []
    def sample():
        while p.poll() is None:
            try: timeline.append((round(time.perf_counter() - t0), *proc_mem(p.pid)))
            except (OSError, KeyError): break
            time.sleep(1)
    th = threading.Thread(target=sample, daemon=True); th.start()
    out, err = p.communicate(); wall = time.perf_counter() - t0; th.join()
    res = {'returncode': p.returncode, 'wall_s': wall, 'timeline_mib': timeline}
    if cgroup: res['cgroup'] = {k: int((cgroup/f'memory.{k}').read_text()) for k in ('limit_in_bytes', 'max_usage_in_bytes', 'failcnt')}
    if p.returncode: return {**res, 'error': err[-3000:]}  # e.g. -9: killed by the OOM killer at the cgroup's limit
    return {**res, 'report': json.loads(out.strip().splitlines()[-1])}

STAGES = {  # function (file:name as pstats prints it) -> stage, for the cumulative-time breakdown
    'data.py:_jsonl_rows': 'read JSONL (json.loads per line)', 'data.py:to_conversation': 'convert to conversations',
    'data.py:check': 'deduplicate (MinHash + index)', 'templates.py:render_spans': 'render the chat template (apply_chat_template)',
    'templates.py:tokenize': 'tokenize (incl. rendering)', 'data.py:flush': 'write Arrow batches', 'data.py:_route': 'split (route the pool)',
    'data.py:_summarise': 'report statistics', 'data.py:_batching': 'padding-waste report', 'arrow_dataset.py:save_to_disk': 'save_to_disk',
}

def profile_summary(path: str, top: int = 15) -> dict:
    "Where the time goes in a cProfile dump: total, cumulative seconds of the stages in STAGES, and the top functions by own time."
    st = pstats.Stats(path, stream=io.StringIO())
    total = st.total_tt
    cum = {}
    for (file, line, name), (cc, nc, tt, ct, callers) in st.stats.items():
        key = f'{Path(file).name}:{name}'
        if key in STAGES: cum[STAGES[key]] = cum.get(STAGES[key], 0) + ct
    own = sorted(((tt, f'{Path(f).name}:{n}') for (f, l, n), (cc, nc, tt, ct, _) in st.stats.items()), reverse=True)[:top]
    return {'total_s': round(total, 1), 'stages_cumulative_s': {k: round(v, 1) for k, v in sorted(cum.items(), key=lambda kv: -kv[1])},
            'top_own_time_s': {name: round(tt, 1) for tt, name in own}}

def main(gib: float, profile_rows: int, cgroup_gib: float):
    import datasets, torch
    work = Path(tempfile.mkdtemp(prefix='ft_bench_prepare_large_'))
    try:
        src = work/'train.jsonl'
        t0 = time.perf_counter(); n = write_jsonl(src, gib); gen_s = time.perf_counter() - t0
        data = {'train_file': str(src), 'max_length': 256}
        cg = make_cgroup(cgroup_gib) if cgroup_gib else None
        try: big = run_child({'data': data, 'output_dir': str(work/'run')}, cgroup=cg)
        finally:
            if cg: cg.rmdir()
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # bytes; the largest child so far: this one
        written = {d.name: round(sum(f.stat().st_size for f in d.rglob('*') if f.is_file()) / 2**30, 2) for d in (work/'run'/'data').iterdir() if d.is_dir()} \
                  if (work/'run'/'data').is_dir() else {}
        shutil.rmtree(work/'run')
        if 'report' not in big: raise SystemExit(f"prepare did not finish (exit {big['returncode']}, cgroup {big.get('cgroup')}):\n{big['error']}")
        prof = None
        if profile_rows:
            head = work/'head.jsonl'
            with open(src) as f, open(head, 'w') as g: g.writelines(itertools.islice(f, profile_rows))
            run_child({'data': {**data, 'train_file': str(head)}, 'output_dir': str(work/'prof_run')}, str(work/'prof.out'))
            prof = {'rows': profile_rows, **profile_summary(str(work/'prof.out'))}
        rows = big['report']['read']['train']
        res = {'rows': rows, 'file_gib': round(src.stat().st_size / 2**30, 2), 'generate_s': round(gen_s), 'prepare_wall_s': round(big['wall_s'], 1),
               'samples_per_s': round(rows / big['wall_s']), 'peak_rss_gib': round(peak / 2**30, 3),
               'peak_anon_gib': round(max((a for _, a, _ in big['timeline_mib']), default=0) / 1024, 3),
               'peak_file_backed_gib': round(max((f for _, _, f in big['timeline_mib']), default=0) / 1024, 3),
               'cgroup': big.get('cgroup', 'none: no writable cgroup-v1 memory controller' if cgroup_gib else 'not asked for'),
               'goals': {'peak_rss_gib': 1.5, 'samples_per_s': 2000},
               'met': {'peak_rss': peak / 2**30 <= 1.5, 'samples_per_s': rows / big['wall_s'] >= 2000},
               'data_gib': written, 'report': big['report'], 'rss_timeline_mib': big['timeline_mib'], 'profile': prof,
               'machine': f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}',
               'python': platform.python_version(), 'datasets': datasets.__version__,
               'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), 'command': 'flock /work/heavy.lock .venv/bin/python bench/prepare_large.py'}
    finally: shutil.rmtree(work, ignore_errors=True)
    out = HERE/'results'/'prepare_large.json'
    out.parent.mkdir(exist_ok=True); out.write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k != 'rss_timeline_mib'}, indent=1))

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--gib', type=float, default=2.0); ap.add_argument('--profile-rows', type=int, default=100_000)
    ap.add_argument('--cgroup-gib', type=float, default=1.5)
    ap.add_argument('--child'); ap.add_argument('--profile-out')
    a = ap.parse_args()
    if a.child: child(a.child, a.profile_out)
    else: main(a.gib, a.profile_rows, a.cgroup_gib)
