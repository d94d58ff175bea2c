"""How fast is `prepare` on 100k alpaca-style samples (JSONL) with the bundled tokenizer, cold and cached? And its MinHash signatures
against datasketch's `MinHash.bulk` (the peer), side by side on 20,000 of the same samples.

Run (one command, under the shared CPU lock):  flock /work/heavy.lock .venv/bin/python bench/prepare_throughput.py
Writes bench/results/prepare_throughput.json.
"""
import json, os, platform, random, sys, tempfile, time
from pathlib import Path

work = Path(tempfile.mkdtemp(prefix='ft_bench_prepare_'))
os.environ['HF_DATASETS_CACHE'] = str(work/'hf_cache')  # a cold datasets cache (prepare reads the JSONL itself, but writes with datasets)

import datasets, torch
from ft_pipeline.config import Config
from ft_pipeline.bundled import make_extraction
from ft_pipeline.data import prepare

def alpaca_rows(n: int, seed: int = 0):
    "n alpaca-style rows: the extraction task's text with varied values, plus a free-text field so no two rows are alike."
    r = random.Random(seed)
    for i, s in enumerate(make_extraction(n, 'train', seed)):
        q, a = s['messages'][0]['content'], s['messages'][1]['content']
        instr, _, inp = q.partition('\n\n') if '\n\n' in q else (q, '', '')
        yield {'instruction': instr, 'input': inp + f' (ticket {r.randrange(10**9)})', 'output': a}

def minhash_side_by_side(n: int = 20_000) -> dict:
    "Seconds for the MinHash signatures of `n` sample keys: datasketch's MinHash.bulk (its default SHA-1) vs prepare's batched `_MinHasher`."
    from datasketch import MinHash
    from ft_pipeline.data import _MinHasher, _shingles, to_conversation
    keys = [to_conversation(r, 'alpaca')['key'] for r in alpaca_rows(n, seed=1)]
    t0 = time.perf_counter(); MinHash.bulk([_shingles(k) for k in keys], num_perm=128); peer = time.perf_counter() - t0
    mh = _MinHasher(128)
    t0 = time.perf_counter(); [mh(keys[k:k+512]) for k in range(0, n, 512)]; ours = time.perf_counter() - t0
    return {'keys': n, 'datasketch_bulk_s': round(peer, 2), 'prepare_batched_s': round(ours, 2), 'speedup': round(peer / ours, 1)}

def main(n: int = 100_000):
    datasets.disable_progress_bars()
    src = work/'train.jsonl'
    with open(src, 'w') as f:
        for row in alpaca_rows(n): f.write(json.dumps(row) + '\n')
    cfg = Config.model_validate({'data': {'train_file': str(src), 'max_length': 256}, 'output_dir': str(work/'run')})
    t0 = time.perf_counter(); rep = prepare(cfg); cold = time.perf_counter() - t0
    t0 = time.perf_counter(); rep2 = prepare(cfg); warm = time.perf_counter() - t0
    assert rep2.cached
    res = {'samples': n, 'file_mib': round(src.stat().st_size/2**20, 1), 'seconds_cold': round(cold, 1), 'samples_per_s_cold': round(n/cold),
           'seconds_cached_rerun': round(warm, 2), 'kept': rep.sizes, 'dropped': rep.dropped, 'tokens': rep.lengths['tokens'],
           'minhash': minhash_side_by_side(),
           'machine': f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}',
           'python': platform.python_version(), 'datasets': datasets.__version__, 'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}
    out = Path(__file__).parent/'results'/'prepare_throughput.json'
    out.parent.mkdir(exist_ok=True); out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))

if __name__ == '__main__': main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
