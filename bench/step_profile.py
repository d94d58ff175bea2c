"""Where one training step's time goes, and what the micro-batch size and LoRA dropout cost at a fixed effective batch (issue 16, item 1).

    python bench/step_profile.py      # ~6 min on a 2-core CPU

The quickstart's own workload: the bundled SmolLM2-135M-Instruct, LoRA r=16 on every projection, the bundled extraction rows as
`prepare` writes them (about 96 tokens each), effective batch 16 rows per optimizer step. Each point runs in its own process through
the training recipe's `setup`, `next_batches` and `train_step` (nothing of the loop is copied): 1 warm-up step, then 3 measured steps
(real tokens / step time, as `train_step` reports them). Then `torch.profiler` records one step of the quickstart's configuration;
its operators are summed by kind (matmul, attention, the loss, elementwise, optimizer, other). fp32 only: bf16 autocast is a lever
only on CPUs with native bf16 matmuls (AMX); `bench/vs_trl.py` measures it (its matmul_peak says whether this CPU has them).
Results: bench/results/step_profile.json (machine and date)."""
import json, subprocess, sys, time
from datetime import datetime, timezone
from pathlib import Path
from machine import describe

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/'bench'/'results'/'step_profile.json'
EFFECTIVE = 16  # rows per optimizer step, as in configs/quickstart.yaml (4 x 4)
# (micro-batch, precision, LoRA dropout, profile one step): the quickstart's configuration first (the baseline of every ratio)
POINTS = [(4, 'fp32', 0.05, True), (16, 'fp32', 0.05, False), (4, 'fp32', 0.0, False)]
KINDS = {'matmul': ('aten::mm', 'aten::addmm', 'aten::bmm', 'aten::matmul', 'aten::linear', 'aten::baddbmm'),
         'attention': ('scaled_dot_product', 'flash_attention', '_efficient_attention'),
         'loss (log-softmax, NLL)': ('log_softmax', 'nll_loss', 'cross_entropy', 'logsumexp'),
         'optimizer (AdamW)': ('_foreach_', 'adam', 'Optimizer.step'),
         'dtype casts and copies': ('aten::to', 'aten::_to_copy', 'aten::copy_', 'aten::contiguous', 'aten::clone')}

def kind(op: str) -> str:
    "The kind of the profiler operator named `op`."
    lo = op.lower()
    for k, keys in KINDS.items():
        if any(x.lower() in lo for x in keys): return k
    return 'elementwise and other'

def point(micro: int, precision: str, dropout: float, profile: bool) -> dict:
    "Tokens/s of the quickstart's training at micro-batch `micro` (accumulation = EFFECTIVE / micro) and, with `profile`, one step's operators."
    import tempfile, torch
    from ft_pipeline.config import load_config
    from ft_pipeline.data import prepare
    from ft_pipeline.train import next_batches, setup, train_step
    with tempfile.TemporaryDirectory() as d:
        cfg = load_config(str(ROOT/'configs'/'quickstart.yaml'),
                          {'output_dir': d, 'training.precision': precision, 'training.device': 'cpu', 'training.micro_batch_size': micro,
                           'training.gradient_accumulation_steps': EFFECTIVE // micro, 'training.max_steps': 5,
                           'lora.dropout': dropout, 'training.save_every': 1000, 'training.eval_every': 1000, 'training.report_to': []})
        prepare(cfg)
        rows, ops = [], None
        with setup(cfg) as run:
            train_step(run, next_batches(run))  # warm-up: allocator, autocast caches, first-call dispatch
            for _ in range(3): rows.append(train_step(run, next_batches(run)))
            if profile:
                from torch.profiler import ProfilerActivity, profile as prof
                with prof(activities=[ProfilerActivity.CPU]) as p: t0 = time.perf_counter(); train_step(run, next_batches(run))
                wall = time.perf_counter() - t0
                ops = [{'op': e.key, 'self_s': e.self_cpu_time_total / 1e6, 'calls': e.count} for e in p.key_averages()]
    res = {'micro_batch_size': micro, 'accumulation': EFFECTIVE // micro, 'precision': precision, 'lora_dropout': dropout,
           'tokens_per_s': sum(r['tokens'] for r in rows) / sum(r['step_time_s'] for r in rows),
           'pad_fraction': sum(r['pad_tokens'] for r in rows) / sum(r['tokens'] + r['pad_tokens'] for r in rows),
           'peak_rss_mb': run.mon.peak_rss / 2**20, 'torch_threads': torch.get_num_threads()}
    if ops is not None:
        by = {}
        for o in ops: by[kind(o['op'])] = by.get(kind(o['op']), 0.) + o['self_s']
        res['profile'] = {'step_wall_s': wall, 'self_s_by_kind': dict(sorted(by.items(), key=lambda x: -x[1])),
                          'top_ops': sorted(ops, key=lambda o: -o['self_s'])[:12]}
    return res

def main():
    if len(sys.argv) > 1 and sys.argv[1] == '--point':
        print('RESULT ' + json.dumps(point(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5] == '1'))); return
    rows = []
    for micro, precision, dropout, profile in POINTS:
        r = subprocess.run([sys.executable, __file__, '--point', str(micro), precision, str(dropout), str(int(profile))], capture_output=True, text=True)
        if r.returncode: print(r.stderr[-3000:]); raise SystemExit('point failed')
        rows.append(json.loads([l for l in r.stdout.splitlines() if l.startswith('RESULT ')][-1][7:]))
        print({k: v for k, v in rows[-1].items() if k != 'profile'}, flush=True)
    import torch
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({'date': datetime.now(timezone.utc).isoformat(timespec='minutes'), 'torch': torch.__version__,
                               'machine': describe(),
                               'command': 'python bench/step_profile.py', 'effective_batch_rows': EFFECTIVE, 'points': rows}, indent=1))
    base = rows[0]['tokens_per_s']
    print('| precision | micro-batch x accumulation | LoRA dropout | tokens/s | vs the quickstart | pad | peak RSS MiB |\n|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['precision']} | {r['micro_batch_size']} x {r['accumulation']} | {r['lora_dropout']} | {r['tokens_per_s']:.0f} | {r['tokens_per_s']/base:.2f}x | "
              f"{r['pad_fraction']:.0%} | {r['peak_rss_mb']:.0f} |")
    for r in rows:
        if 'profile' in r: print(r['precision'], 'one step', f"{r['profile']['step_wall_s']:.2f} s:", {k: round(v, 2) for k, v in r['profile']['self_s_by_kind'].items()})

if __name__ == '__main__':
    main()
