"""Training throughput and peak memory of ft_pipeline's loop vs sequence length, with and without gradient checkpointing.

    python bench/train_scaling.py            # bundled SmolLM2-135M, LoRA r=16, micro-batch 1, lengths 128/512/2048, fp32 and bf16

Each point runs in its own process (clean peak RSS): 1 warm-up + 3 measured optimizer steps on random tokens, every token supervised.
Results: bench/results/train_scaling.json."""
import json, os, platform, subprocess, sys, time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/'bench'/'results'/'train_scaling.json'

def point(length: int, gc: bool, precision: str) -> dict:
    import torch
    from accelerate import Accelerator
    from ft_pipeline.config import load_config
    from ft_pipeline.lora import add_lora
    from ft_pipeline.core import MemoryMonitor
    from ft_pipeline.quant import load_base, prepare_for_training
    from ft_pipeline.train import CausalLMLoss, make_optimizer, step_grads
    cfg = load_config(None, {'training.gradient_checkpointing': gc, 'training.precision': precision, 'training.device': 'cpu'})
    mon = MemoryMonitor('cpu').start()
    model, tok = load_base(cfg.model, cfg.quantization, 'cpu', precision)
    model = prepare_for_training(model, gc)
    model = add_lora(model, r=16, lora_alpha=32, lora_dropout=0.0)
    model.train()  # transformers checkpoints only in training mode: without this, checkpointing is silently off
    lm = CausalLMLoss(model)
    acc = Accelerator(cpu=True, mixed_precision='no' if precision == 'fp32' else precision)
    opt = make_optimizer(model, 2e-4)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, len(tok), (1, length), generator=g)
    batch = {'input_ids': ids, 'labels': ids.clone(), 'attention_mask': torch.ones_like(ids)}
    times = []
    for i in range(4):
        t0 = time.perf_counter(); step_grads(lm, [batch], acc); opt.step(); opt.zero_grad(set_to_none=True); times.append(time.perf_counter() - t0)
    mon.stop()
    dt = sum(times[1:]) / 3
    return {'length': length, 'gradient_checkpointing': gc, 'precision': precision, 'step_s': dt, 'tokens_per_s': length / dt,
            'peak_rss_mb': mon.peak_rss / 2**20}

def main():
    if len(sys.argv) > 1 and sys.argv[1] == '--point':
        print('RESULT ' + json.dumps(point(int(sys.argv[2]), sys.argv[3] == '1', sys.argv[4]))); return
    rows = []
    for precision in ('fp32', 'bf16'):
        for length in (128, 512, 2048):
            for gc in (False, True):
                r = subprocess.run([sys.executable, __file__, '--point', str(length), str(int(gc)), precision], capture_output=True, text=True)
                if r.returncode: print(r.stderr[-2000:]); raise SystemExit('point failed')
                rows.append(json.loads([l for l in r.stdout.splitlines() if l.startswith('RESULT ')][-1][7:])); print(rows[-1], flush=True)
    import psutil, torch
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({'date': datetime.now(timezone.utc).isoformat(timespec='minutes'), 'torch': torch.__version__,
                               'machine': f'{platform.machine()}, {os.cpu_count()} cores, {psutil.virtual_memory().total/2**30:.0f} GiB',
                               'points': rows}, indent=1))
    print('| precision | length | checkpointing | tokens/s | peak RSS MiB |\n|---|---|---|---|---|')
    for r in rows: print(f"| {r['precision']} | {r['length']} | {r['gradient_checkpointing']} | {r['tokens_per_s']:.0f} | {r['peak_rss_mb']:.0f} |")

if __name__ == '__main__':
    main()
