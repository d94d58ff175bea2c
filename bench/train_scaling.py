"""Training throughput and peak memory of ft_pipeline's loop vs sequence length, with and without gradient checkpointing.

    python bench/train_scaling.py            # bundled SmolLM2-135M, LoRA r=16, micro-batch 1, lengths 128/512/2048, fp32 and bf16

Each point runs in its own process (clean peak RSS): 1 warm-up + 3 measured optimizer steps on random tokens, every token supervised,
through the training recipe's own `setup` and `train_step` (nothing of the loop is copied here).
Results: bench/results/train_scaling.json."""
import json, os, platform, subprocess, sys, time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/'bench'/'results'/'train_scaling.json'

def point(length: int, gc: bool, precision: str) -> dict:
    "Train 4 steps of one sequence of `length` random tokens (every token supervised) through ft_pipeline's own `setup` and `train_step`."
    import tempfile, datasets, torch
    from ft_pipeline.config import load_config
    from ft_pipeline.model import load_tokenizer
    from ft_pipeline.train import next_batches, setup, train_step
    with tempfile.TemporaryDirectory() as d:
        cfg = load_config(None, {'output_dir': d, 'data.max_length': length, 'lora.r': 16, 'lora.alpha': 32, 'lora.dropout': 0.0,
                                 'training.gradient_checkpointing': gc, 'training.precision': precision, 'training.device': 'cpu',
                                 'training.micro_batch_size': 1, 'training.gradient_accumulation_steps': 1, 'training.max_steps': 4,
                                 'training.learning_rate': 2e-4, 'training.save_every': 1000, 'training.report_to': []})
        g = torch.Generator().manual_seed(0)
        rows = [torch.randint(3, len(load_tokenizer(cfg.model)), (length,), generator=g).tolist() for _ in range(4)]
        datasets.Dataset.from_dict({'input_ids': rows, 'labels': rows}).save_to_disk(f'{d}/data/train')
        times = []
        with setup(cfg) as run:  # the peak RSS includes the loaded model, as before
            for i in range(4):
                t0 = time.perf_counter(); train_step(run, next_batches(run)); times.append(time.perf_counter() - t0)
    dt = sum(times[1:]) / 3
    return {'length': length, 'gradient_checkpointing': gc, 'precision': precision, 'step_s': dt, 'tokens_per_s': length / dt,
            'peak_rss_mb': run.mon.peak_rss / 2**20}

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
