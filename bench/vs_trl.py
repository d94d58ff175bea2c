"""ft_pipeline's training loop vs TRL's SFTTrainer, side by side, on the same model, data and hyperparameters.

Workload (issue 5): the bundled SmolLM2-135M-Instruct, 512 samples of the bundled extraction task, LoRA r=16 on all linear projections,
max length 256, micro-batch 4, accumulation 4, 1 epoch, seed 42, lr 2e-4 cosine after 1 warmup step. Both trainers get the *same tokenized rows*
(input_ids + labels from `ft-pipeline prepare`), so they optimise the same loss on the same tokens.

    python bench/vs_trl.py                 # all configurations, one seed: ~45 min on a 2-core CPU
    python bench/vs_trl.py --only ftp_bf16 trl_default
    python bench/vs_trl.py --only trl_default ftp_fp32 --seeds 42 43 44 --out bench/results/vs_trl_seeds.json   # the seed spread
    python bench/vs_trl.py --only ftp_fp32_random --seeds 42 43 44 --out bench/results/vs_trl_seeds.json   # + the data-order row

With several seeds each configuration runs once per seed (the training seed: LoRA initialisation, dropout masks and data order; the
data split stays the same); its row holds the mean tokens/s and validation loss, their range, and each seed's numbers.

Each configuration runs in its own process (clean memory, no shared caches). Afterwards every adapter's validation loss is computed
by one function (token-weighted NLL over the same validation rows, fp32), so the losses compare. Results: bench/results/vs_trl.json (or --out).
"""
import argparse, json, subprocess, sys, time
from datetime import datetime, timezone
from pathlib import Path

from machine import describe, matmul_peak

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT/'bench'/'results'/'vs_trl_work'
RESULTS = ROOT/'bench'/'results'/'vs_trl.json'
COMMON = {'data.train_file': 'bundled:extraction', 'data.max_samples': 512 + 57, 'data.validation_split': 0.1, 'data.max_length': 256,
          'lora.r': 16, 'lora.alpha': 32, 'lora.dropout': 0.05, 'lora.target_modules': 'all-linear',
          'training.micro_batch_size': 4, 'training.gradient_accumulation_steps': 4, 'training.epochs': 1, 'training.seed': 42,
          'training.learning_rate': 2e-4, 'training.lr_scheduler': 'cosine', 'training.warmup_steps': 1, 'training.eval_every': 1000,
          'training.save_every': 1000, 'training.report_to': [], 'training.device': 'cpu'}
CONFIGS = {
    'trl_default':      ('trl', {}),                                   # TRL's defaults (gradient checkpointing on), fp32 as the workload says
    'trl_no_gc':        ('trl', {'gradient_checkpointing': False}),
    'trl_packing':      ('trl', {'gradient_checkpointing': False, 'packing': True}),
    'trl_bf16':         ('trl', {'gradient_checkpointing': False, 'bf16': True}),
    # ftp_*: this loop; length-grouped micro-batches (group_by_length: true) as the rows of 2026-11-22 were measured, or random ones
    # (false, the default since 2026-12-03, and TRL's order)
    'ftp_fp32':         ('ftp', {'training.precision': 'fp32', 'training.group_by_length': True}),
    'ftp_fp32_random':  ('ftp', {'training.precision': 'fp32', 'training.group_by_length': False}),
    'ftp_bf16':         ('ftp', {'training.precision': 'bf16', 'training.group_by_length': True}),
    'ftp_bf16_packed':  ('ftp', {'training.precision': 'bf16', 'data.packing': True}),
}

def prepared_dir() -> Path:
    "Prepare the data once (ft_pipeline's prepare), shared by every configuration."
    from ft_pipeline.config import load_config
    from ft_pipeline.data import prepare
    d = WORK/'data_src'
    prepare(load_config(None, {**COMMON, 'output_dir': str(d)}))
    return d

def run_ftp(name, over, seed) -> dict:
    from ft_pipeline.config import load_config
    from ft_pipeline.data import prepare
    from ft_pipeline.train import train
    out = WORK/f'{name}-s{seed}'
    cfg = load_config(None, {**COMMON, **over, 'training.seed': seed, 'output_dir': str(out), 'training.resume': 'never'})
    prepare(cfg)
    t0 = time.perf_counter(); rep = train(cfg); wall = time.perf_counter() - t0
    return {'adapter': str(out/'adapter'), 'train_seconds': rep.seconds, 'wall_seconds_incl_load': wall}

def run_trl(name, over, seed) -> dict:
    import torch
    from datasets import load_from_disk
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer
    from ft_pipeline.model import bundled_model_dir
    src = prepared_dir()/'data'
    train_ds = load_from_disk(str(src/'train')).select_columns(['input_ids', 'labels'])
    path = bundled_model_dir()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    out = WORK/f'{name}-s{seed}'
    args = SFTConfig(output_dir=str(out), per_device_train_batch_size=4, gradient_accumulation_steps=4, learning_rate=2e-4,
                     lr_scheduler_type='cosine', warmup_steps=1, num_train_epochs=1, seed=seed, max_length=256, report_to='none',
                     logging_steps=10, save_strategy='no', use_cpu=True, bf16=over.pop('bf16', False), dataloader_num_workers=0, **over)
    peft_cfg = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules='all-linear', task_type='CAUSAL_LM')
    tr = SFTTrainer(model=model, args=args, train_dataset=train_ds, processing_class=tok, peft_config=peft_cfg)
    t0 = time.perf_counter(); tr.train(); secs = time.perf_counter() - t0
    tr.model.save_pretrained(str(out/'adapter'))
    return {'adapter': str(out/'adapter'), 'train_seconds': secs}

def val_loss(adapter: str) -> float:
    "Token-weighted validation NLL of base + `adapter`, fp32, the same function for every configuration."
    import torch
    from datasets import load_from_disk
    from peft import PeftModel
    from ft_pipeline.model import bundled_model_dir
    from ft_pipeline.train import CausalLMLoss, evaluate_loss
    from transformers import AutoModelForCausalLM, AutoTokenizer
    path = bundled_model_dir()
    tok = AutoTokenizer.from_pretrained(path)
    m = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32), adapter)
    val = load_from_disk(str(WORK/'data_src'/'data'/'validation'))
    return evaluate_loss(CausalLMLoss(m), val, 8, tok.pad_token_id)

def seed_summary(per_seed: dict) -> dict:
    "One configuration's row: mean train seconds, tokens/s and validation loss over its seeds, the loss range, and each seed's numbers."
    import statistics
    col = lambda k: [r[k] for r in per_seed.values()]
    row = {k: statistics.fmean(col(k)) for k in ('train_seconds', 'real_tokens_per_s', 'val_loss')}
    row.update(val_loss_min=min(col('val_loss')), val_loss_max=max(col('val_loss')), seeds=per_seed)
    return row

def child(name, seed):
    kind, over = CONFIGS[name]
    r = (run_ftp if kind == 'ftp' else run_trl)(name, dict(over), seed)
    print('RESULT ' + json.dumps(r))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--only', nargs='*', default=list(CONFIGS))
    ap.add_argument('--seeds', nargs='+', type=int, default=[42], help='training seeds; each configuration runs once per seed')
    ap.add_argument('--out', type=Path, default=RESULTS, help='results JSON (a run with other configurations or seeds keeps its own file)')
    ap.add_argument('--child')
    a = ap.parse_args()
    if a.child: return child(a.child, a.seeds[0])
    WORK.mkdir(parents=True, exist_ok=True)
    prepared_dir()
    from datasets import load_from_disk
    train_rows = load_from_disk(str(WORK/'data_src'/'data'/'train'))
    real_tokens = sum(len(x) for x in train_rows['input_ids']); sup = sum(sum(l != -100 for l in x[1:]) for x in train_rows['labels'])
    import torch
    peak = matmul_peak(sorted({'bf16' if 'bf16' in n else 'fp32' for n in a.only}))   # before the runs, on the otherwise idle machine
    results = json.loads(a.out.read_text()) if a.out.exists() else {}
    results.setdefault('runs', {})
    results.update(date=datetime.now(timezone.utc).isoformat(timespec='minutes'), machine=describe(), torch=torch.__version__,
                   train_rows=len(train_rows), real_tokens=real_tokens, supervised_tokens=int(sup), matmul_gflops=peak)
    body = 134.5e6 - 49152 * 576  # parameters in matmuls (the tied embedding is a lookup on input, a matmul only as the head)
    for name in a.only:
        per_seed = {}
        for seed in a.seeds:
            r = subprocess.run([sys.executable, __file__, '--child', name, '--seeds', str(seed)], capture_output=True, text=True)
            if r.returncode != 0: print(r.stderr[-3000:]); raise SystemExit(f'{name} (seed {seed}) failed')
            res = json.loads([l for l in r.stdout.splitlines() if l.startswith('RESULT ')][-1][7:])
            res['real_tokens_per_s'] = real_tokens / res['train_seconds']
            res['val_loss'] = val_loss(res['adapter'])
            per_seed[seed] = res
            print(name, seed, json.dumps(res))
        res = results['runs'][name] = seed_summary(per_seed)
        flops = 4 * body * real_tokens + 4 * 49152 * 576 * sup
        prec = 'bf16' if 'bf16' in name else 'fp32'
        res['matmul_gflops'] = {prec: peak[prec]}
        res['fraction_of_matmul_peak'] = flops / res['train_seconds'] / 1e9 / peak[prec]
        res['date'] = results['date']   # a row kept from an earlier run into the same --out keeps its own date and peak
        if base := results['runs'].get('trl_default'):
            for r in results['runs'].values(): r['speedup_vs_trl_default'] = r['real_tokens_per_s'] / base['real_tokens_per_s']
        a.out.write_text(json.dumps(results, indent=1))   # after each configuration: an interrupted run keeps what it measured
    print(f"| run | real tokens/s | x TRL default | val loss | train s | % of matmul peak |")
    for name, res in results['runs'].items():
        print(f"| {name} | {res['real_tokens_per_s']:.0f} | {res.get('speedup_vs_trl_default', float('nan')):.2f} | {res['val_loss']:.4f} | "
              f"{res['train_seconds']:.0f} | {100*res['fraction_of_matmul_peak']:.0f}% |")

if __name__ == '__main__':
    main()
