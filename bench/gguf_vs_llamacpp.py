"""ft_pipeline's GGUF writer vs llama.cpp's own convert_hf_to_gguf.py on the same merged model: wall time, peak memory, tensor equality.

Run (under the shared CPU lock, nothing else running):
    flock /work/heavy.lock .venv/bin/python bench/gguf_vs_llamacpp.py
The converter comes from llama-cpp-python's sdist (vendor/llama.cpp), fetched with `pip download --no-deps --no-binary :all:` into
--work unless --llama-cpp points at an extracted llama.cpp tree; it is never copied into this repository. Each conversion runs in a
fresh Python process, one at a time; peak memory is that process's maximum resident set (os.wait4 ru_maxrss).
"""
import argparse, datetime, json, os, platform, subprocess, sys, tarfile, time
from pathlib import Path

import gguf

LLAMA_CPP_PYTHON = '0.3.36'

def llama_cpp_tree(work: Path) -> Path:
    "vendor/llama.cpp of the llama-cpp-python sdist, downloaded and extracted into `work` once."
    tree = work/f'llama_cpp_python-{LLAMA_CPP_PYTHON}'/'vendor'/'llama.cpp'
    if (tree/'convert_hf_to_gguf.py').is_file(): return tree
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', '--no-binary', ':all:', f'llama-cpp-python=={LLAMA_CPP_PYTHON}',
                    '-d', str(work)], check=True)
    with tarfile.open(work/f'llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz') as t: t.extractall(work, filter='data')
    return tree

def run(cmd: list[str], child_json: bool = False) -> dict:
    "Run `cmd`: wall seconds, the child's peak RSS in MiB and, with `child_json`, the JSON object it prints on its last stdout line."
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE if child_json else subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()                      # to EOF: the child has exited (or closed stderr); stdout holds one short line
    out = p.stdout.read() if child_json else b''
    _, status, ru = os.wait4(p.pid, 0)         # reaps it and gives its own ru_maxrss
    dt = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0: raise RuntimeError(f"{' '.join(cmd)} failed:\n{err.decode()[-2000:]}")
    res = {'seconds': round(dt, 2), 'peak_rss_mib': round(ru.ru_maxrss / 1024, 1)}
    if child_json: res['child'] = json.loads(out.decode().strip().splitlines()[-1])
    return res

def compare(a: Path, b: Path) -> dict:
    "Tensor-level comparison of two GGUF files: same names, types, shapes and bytes; metadata keys/values that differ."
    ra, rb = gguf.GGUFReader(a), gguf.GGUFReader(b)
    ta, tb = {t.name: t for t in ra.tensors}, {t.name: t for t in rb.tensors}
    diff = [n for n in sorted(set(ta) & set(tb))
            if ta[n].tensor_type != tb[n].tensor_type or list(ta[n].shape) != list(tb[n].shape) or ta[n].data.tobytes() != tb[n].data.tobytes()]
    skip = {'GGUF.kv_count', 'general.name', 'general.basename', 'general.finetune', 'general.size_label'}
    def kv(r):
        out = {}
        for k, f in r.fields.items():
            if k in skip: continue
            v = f.contents()
            out[k] = len(v) if isinstance(v, list) and len(v) > 16 else v
        return out
    ka, kb = kv(ra), kv(rb)
    return {'tensors': [len(ta), len(tb)], 'only_ours': sorted(set(ta) - set(tb)), 'only_llama_cpp': sorted(set(tb) - set(ta)),
            'tensors_differing': diff[:20], 'n_tensors_differing': len(diff), 'tensors_equal': not diff and set(ta) == set(tb),
            'bytes_equal': a.read_bytes() == b.read_bytes(),
            'metadata_only_ours': sorted(set(ka) - set(kb)), 'metadata_only_llama_cpp': sorted(set(kb) - set(ka)),
            'metadata_differing': {k: [str(ka[k])[:80], str(kb[k])[:80]] for k in sorted(set(ka) & set(kb)) if ka[k] != kb[k]}}

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model-dir', help='merged HF model dir (default: the bundled SmolLM2-135M-Instruct cache dir)')
    ap.add_argument('--types', nargs='+', default=['f16', 'q8_0'])
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--work', default='/tmp/gguf_bench', help='scratch dir for the sdist and the written files')
    ap.add_argument('--llama-cpp', help='an extracted llama.cpp tree with convert_hf_to_gguf.py (default: from the sdist)')
    ap.add_argument('--out', default=str(Path(__file__).parent/'results'/'gguf_vs_llamacpp.json'))
    a = ap.parse_args()
    work = Path(a.work)
    if a.model_dir: model_dir = Path(a.model_dir)
    else:
        from ft_pipeline.model import bundled_model_dir
        model_dir = bundled_model_dir()
    tree = Path(a.llama_cpp) if a.llama_cpp else llama_cpp_tree(work)
    res = {'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'), 'machine': platform.processor() or platform.machine(),
           'cpus': os.cpu_count(), 'python': platform.python_version(), 'gguf': gguf.__version__ if hasattr(gguf, '__version__') else 'unknown',
           'model_dir': str(model_dir), 'llama_cpp_python_sdist': LLAMA_CPP_PYTHON, 'repeats': a.repeats, 'results': {}}
    try: res['cpu_model'] = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): pass
    # all timed runs first: a child's peak RSS (wait4 ru_maxrss) includes what it inherited at fork, so this process stays small
    # until they are done, and only then reads the files for the comparison
    files = {t: (work/f'ours-{t}.gguf', work/f'llamacpp-{t}.gguf') for t in a.types}
    for t, (ours, theirs) in files.items():
        code = (f'import json; from ft_pipeline.gguf_writer import write_gguf; f = write_gguf({str(model_dir)!r}, {str(ours)!r}, {t!r}); '
                'print(json.dumps({"seconds_in_write_gguf": f.seconds, "phases": f.phases}))')
        cmds = {'ours': [sys.executable, '-c', code],
                'llama_cpp': [sys.executable, str(tree/'convert_hf_to_gguf.py'), str(model_dir), '--outtype', t, '--outfile', str(theirs)]}
        runs = {k: [] for k in cmds}
        for _ in range(a.repeats):
            for k, c in cmds.items(): runs[k].append(run(c, child_json=k == 'ours'))
        res['results'][t] = {k: {'seconds_min': min(x['seconds'] for x in v), 'seconds_all': [x['seconds'] for x in v],
                                 'peak_rss_mib_max': max(x['peak_rss_mib'] for x in v), 'size_bytes': (ours if k == 'ours' else theirs).stat().st_size}
                             for k, v in runs.items()}
        # where our time goes, from the fastest run: inside write_gguf (metadata, read, convert, write) and the rest (interpreter, imports)
        best = min(runs['ours'], key=lambda x: x['seconds'])
        res['results'][t]['ours']['phases'] = dict(best['child']['phases'], outside_write_gguf=round(best['seconds'] - best['child']['seconds_in_write_gguf'], 2))
        print(t, json.dumps(res['results'][t]), flush=True)
    for t, (ours, theirs) in files.items():
        res['results'][t]['equality'] = eq = compare(ours, theirs)
        print(t, 'tensors_equal', eq['tensors_equal'], 'metadata differing', eq['metadata_differing'], flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(f'wrote {a.out}')

if __name__ == '__main__': main()
