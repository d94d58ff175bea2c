"""LoRA fp32 vs QLoRA NF4 on the bundled 135M model, and estimate_memory against measured peaks.

One command (run it under the shared CPU lock, nothing else running):

    flock /tmp/ft_cpu.lock .venv/bin/python bench/qlora_memory.py          # writes bench/results/qlora_memory.json

Every configuration runs in its own fresh subprocess (`point` mode below), so its peak RSS is its own: the process's RSS high-water mark
(Linux VmHWM) is reset after the model is loaded and read after the training steps, and a background sampler cross-checks it
(ft_pipeline.core.MemoryMonitor). The training step is the pipeline's own (`ft_pipeline.train.setup` and `train_step`: forward,
backward, clipping, AdamW on the LoRA parameter groups) on full rows of real text, constant learning rate 1e-3.

    python bench/qlora_memory.py point --bs 2 --len 256 --q4 1 --gc 0 --steps 3   # one configuration, prints one JSON line
"""
import argparse, json, os, platform, statistics, subprocess, sys, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRAIN = [("What is the boiling point of water?", "At sea level water boils at 100 degrees Celsius."),
         ("Name a large mammal that lives in the ocean.", "The blue whale is the largest mammal in the ocean."),
         ("Extract the city: 'Our office moved to Lisbon in May.'", "Lisbon"),
         ("What does CPU stand for?", "CPU stands for central processing unit."),
         ("Give an antonym of 'ancient'.", "An antonym of ancient is modern."),
         ("How many legs does a spider have?", "A spider has eight legs."),
         ("Convert 2 kilometres to metres.", "2 kilometres are 2000 metres."),
         ("Which planet is known as the red planet?", "Mars is known as the red planet."),
         ("Extract the amount: 'The bill came to 42 euros.'", "42 euros"),
         ("What is the plural of 'mouse'?", "The plural of mouse is mice.")]
VALID = [("What is the freezing point of water?", "Water freezes at 0 degrees Celsius at sea level."),
         ("Extract the name: 'Maria signed the contract yesterday.'", "Maria"),
         ("How many days are in a week?", "A week has seven days."),
         ("What is the largest planet in the solar system?", "Jupiter is the largest planet in the solar system.")]


def point(a):
    "Train `a.steps` steps of one configuration through the training recipe's `setup` and `train_step`; print a JSON line with its memory and timing."
    from ft_pipeline.core import MemoryMonitor, text_perplexity
    from ft_pipeline.memory import estimate_memory
    mon = MemoryMonitor(interval=0.02)
    runtime = mon.stage('imports')['rss']
    import shutil, tempfile, datasets, torch
    from ft_pipeline.config import load_config
    from ft_pipeline.model import load_tokenizer
    from ft_pipeline.quant import weight_bytes
    from ft_pipeline.train import cleanup, next_batches, setup, train_step
    work = tempfile.mkdtemp()
    cfg = load_config(None, {'output_dir': work, 'quantization.load_in_4bit': bool(a.q4), 'quantization.double_quant': bool(a.dq),
                             'training.gradient_checkpointing': bool(a.gc), 'training.micro_batch_size': a.bs, 'data.max_length': a.len,
                             'training.gradient_accumulation_steps': 1, 'training.max_steps': a.steps, 'training.learning_rate': 1e-3,
                             'training.lr_scheduler': 'constant', 'training.warmup_steps': 0, 'training.save_every': 1000,
                             'training.report_to': []})
    est = estimate_memory(cfg, suggest=False)
    tok = load_tokenizer(cfg.model)
    chat = lambda u, r: tok.apply_chat_template([{'role': 'user', 'content': u}, {'role': 'assistant', 'content': r}], tokenize=False)
    stream = tok(''.join(chat(u, r) for u, r in TRAIN)).input_ids
    while len(stream) < a.bs * a.len: stream = stream + stream
    rows = [stream[i * a.len:(i + 1) * a.len] for i in range(a.bs)]  # full rows of real text, every token supervised
    datasets.Dataset.from_dict({'input_ids': rows, 'labels': rows}).save_to_disk(f'{work}/data/train')
    run = setup(cfg)
    weights = weight_bytes(run.model) - sum(p.numel() * p.element_size() for p in run.params)  # the frozen base, adapters excluded
    mon.stage('adapters added')
    times, losses = [], []
    mon.start()
    for i in range(a.steps):
        t0 = time.perf_counter()
        row = train_step(run, next_batches(run))  # one epoch = one micro-batch of these rows
        times.append(time.perf_counter() - t0); losses.append(row['loss'])
    peak = mon.stop()
    out = dict(bs=a.bs, len=a.len, q4=a.q4, dq=a.dq, gc=a.gc, steps=a.steps, weights_bytes=weights, runtime_rss=runtime,
               rss_after_load=mon.records[1]['rss'], peak_rss=mon.peak_rss, peak_rss_sampled=max(r['peak_rss'] for r in mon.records),
               step_s_median=statistics.median(times[1:] or times), step_s=times, loss_first=losses[0], loss_last=losses[-1],
               estimate_bytes=est.total, estimate_parts=est.parts)
    if a.ppl:
        run.model.eval()
        out['ppl_after'] = text_perplexity(run.model, tok, [chat(u, r) for u, r in VALID])
    cleanup(run); shutil.rmtree(work)
    print('RESULT ' + json.dumps(out), flush=True)


def run_point(**kw):
    args = [sys.executable, str(Path(__file__)), 'point'] + [f'--{k}={v}' for k, v in kw.items()]
    p = subprocess.run(args, capture_output=True, text=True, env={**os.environ, 'TOKENIZERS_PARALLELISM': 'false'})
    line = [s for s in p.stdout.splitlines() if s.startswith('RESULT ')]
    if p.returncode or not line: raise RuntimeError(f'{args} failed:\n{p.stderr[-3000:]}')
    return json.loads(line[0][7:])


def main():
    compare = [dict(q4=q, bs=2, len=256, gc=0, steps=20, ppl=1) for q in (0, 1)]
    points = [dict(q4=1, bs=2, len=512, gc=0), dict(q4=1, bs=4, len=512, gc=1)]
    res = dict(date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), machine=f'{platform.processor() or platform.machine()}, '
               f'{os.cpu_count()} CPU cores, {platform.system()}', command='flock /tmp/ft_cpu.lock .venv/bin/python bench/qlora_memory.py',
               compare=[], points=[])
    for c in compare: res['compare'].append(run_point(**c)); print(json.dumps({k: v for k, v in res['compare'][-1].items() if k != 'estimate_parts'}), flush=True)
    for c in points: res['points'].append(run_point(steps=3, **c)); print(json.dumps({k: v for k, v in res['points'][-1].items() if k != 'estimate_parts'}), flush=True)
    out = HERE/'results'/'qlora_memory.json'
    out.parent.mkdir(exist_ok=True); out.write_text(json.dumps(res, indent=1))
    print(out)


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', nargs='?', default='all', choices=['all', 'point'])
    for k, d in dict(bs=4, len=256, q4=0, dq=1, gc=0, steps=3, ppl=0).items(): ap.add_argument(f'--{k}', type=int, default=d)
    a = ap.parse_args()
    point(a) if a.mode == 'point' else main()
