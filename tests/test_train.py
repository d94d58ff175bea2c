"Training behaviour that needs real processes: exact resume after SIGKILL, SIGTERM handling, and 2-process DDP (gloo) on CPU."
import json, os, random, signal, subprocess, sys, time
from pathlib import Path

import datasets, pytest
from safetensors.torch import load_file
from procs import Script

PY = sys.executable
WORKER = '''
import sys, json
from ft_pipeline.config import load_config
from ft_pipeline.train import train
run, over = sys.argv[1], json.loads(sys.argv[2])
rep = train(load_config(None, {"output_dir": run, **over}))
print("DONE", rep.steps, rep.resumed_from)
'''

def _rows(n, seed):
    r = random.Random(seed)
    out = []
    for i in range(n):
        L = r.randint(20, 60); ids = [r.randint(3, 500) for _ in range(L)]
        out.append({'input_ids': ids, 'labels': [-100] * (L // 2) + ids[L // 2:], 'source': 'synthetic', 'sample_id': f'{seed}-{i}'})
    return datasets.Dataset.from_list(out)

@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    from ft_pipeline.testing import tiny_model
    d = tmp_path_factory.mktemp('tiny')
    tiny_model(d/'model')
    return d

def _run_dir(base: Path, name: str) -> Path:
    d = base/name
    _rows(96, 0).save_to_disk(str(d/'data'/'train')); _rows(16, 1).save_to_disk(str(d/'data'/'validation'))
    return d

def _over(tiny, **kw):
    return {'model.name_or_path': str(tiny/'model'), 'training.micro_batch_size': 4, 'training.gradient_accumulation_steps': 2,
            'training.learning_rate': 2e-3, 'training.eval_every': 4, 'training.save_every': 3, 'training.max_steps': 16,
            'training.report_to': [], 'lora.r': 8, 'data.max_length': 128, **kw}

def _start(run, over) -> Script:
    "`WORKER` training `run` with `over` in a process of its own (forked with the imports done: tests/procs.py)."
    return Script(WORKER, run, json.dumps(over))

def _steps_logged(run):
    m = run/'logs'/'metrics.jsonl'
    return len(m.read_text().splitlines()) if m.exists() else 0

def _wait_steps(p, run, n, timeout=300):
    t0 = time.time()
    while _steps_logged(run) < n:
        assert p.poll() is None, p.communicate()
        assert time.time() - t0 < timeout
        time.sleep(0.02)

def _adapter(run):
    return load_file(str(run/'adapter'/'adapter_model.safetensors'))

def _losses(run):
    return [json.loads(l)['loss'] for l in (run/'logs'/'metrics.jsonl').read_text().splitlines()]

@pytest.fixture(scope='module')
def uninterrupted(tiny, tmp_path_factory):
    "The run the killed ones are compared with: `_over(tiny)` from start to end."
    ref = _run_dir(tmp_path_factory.mktemp('uninterrupted'), 'ref')
    p = _start(ref, _over(tiny)); out, err = p.communicate(); assert p.returncode == 0, err
    return ref

@pytest.mark.parametrize('kill_at', [5, 13])  # 96 rows / (4 x 2) = 12 steps per epoch: 13 resumes from step 12, at the epoch boundary
def test_sigkill_then_resume_is_exact(tiny, uninterrupted, tmp_path, kill_at):
    ref = uninterrupted
    run = _run_dir(tmp_path, 'killed')
    p = _start(run, _over(tiny)); _wait_steps(p, run, kill_at)
    p.send_signal(signal.SIGKILL); p.wait()
    p = _start(run, _over(tiny)); out, err = p.communicate(); assert p.returncode == 0, err
    assert 'checkpoints/step-' in out, out  # it resumed rather than starting over
    a, b = _adapter(ref), _adapter(run)
    assert a.keys() == b.keys()
    assert all((a[k] == b[k]).all() for k in a), 'resumed adapter differs from the uninterrupted run'  # bitwise on CPU
    assert _losses(ref) == _losses(run)

def test_corrupt_newest_checkpoint_falls_back(tiny, tmp_path):
    run = _run_dir(tmp_path, 'run')
    p = _start(run, _over(tiny, **{'training.max_steps': 9})); _, err = p.communicate(); assert p.returncode == 0, err
    cks = sorted((run/'checkpoints').glob('step-*'))
    newest = cks[-1]
    f = newest/'model.safetensors'; f.write_bytes(f.read_bytes()[:-10])  # truncate the newest
    p = _start(run, _over(tiny, **{'training.max_steps': 12})); out, err = p.communicate(); assert p.returncode == 0, err
    assert f'{newest} is unusable' in err and 'truncated' in err, err
    assert f'DONE 12 {cks[-2]}' in out, out

def test_sigterm_saves_and_exits_cleanly(tiny, tmp_path):
    run = _run_dir(tmp_path, 'run')
    p = _start(run, _over(tiny, **{'training.save_every': 100})); _wait_steps(p, run, 4)
    p.send_signal(signal.SIGTERM); out, err = p.communicate()
    assert 'stopped by SIGTERM after step' in err and 'Resume with' in err, err
    steps = sorted(int(c.name[5:]) for c in (run/'checkpoints').glob('step-*'))
    assert steps[-1] == _steps_logged(run) and steps[-1] >= 4

def test_two_process_ddp_matches_single_process(tiny, tmp_path):
    single, multi = _run_dir(tmp_path, 'single'), _run_dir(tmp_path, 'multi')
    over = _over(tiny, **{'training.max_steps': 6, 'lora.dropout': 0.0})
    p = _start(single, {**over, 'training.gradient_accumulation_steps': 4}); _, err = p.communicate(); assert p.returncode == 0, err
    torchrun = Path(PY).parent/'torchrun'
    r = subprocess.run([str(torchrun), '--standalone', '--nproc_per_node', '2', '--no-python', PY, '-c', WORKER, str(multi),
                        json.dumps({**over, 'training.gradient_accumulation_steps': 2})], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = _adapter(single), _adapter(multi)
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    assert diff < 1e-5, diff
