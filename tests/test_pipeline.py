"""The fault-injection and bad-input suite for `ft-pipeline run` (issue 8): each case ends in a clear message or a correct recovery.

The heavy cases use a tiny random model with the bundled tokenizer on the bundled data, a handful of steps, so the suite stays small."""
import hashlib, json, os, pickle, random, signal, subprocess, sys, time
from pathlib import Path

import pytest
from procs import run_cli, run_script, start_cli

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent/'ft-pipeline'
TOKEN = 'hf_PlantedSecretToken1234567890abcdefXYZ'
WANDB_KEY = 'planted0wandb1key2abcdef3456789012345678'

def ftp(*args, timeout=900):
    "`ft-pipeline ARGS` in a process of its own (forked with the imports done: tests/procs.py)."
    return run_cli(*args, cwd=ROOT, timeout=timeout)

def sets(over: dict) -> list[str]:
    return [a for k, v in over.items() for a in ('--set', f'{k}={json.dumps(v) if not isinstance(v, str) else v}')]

@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    from ft_pipeline.testing import tiny_model
    d = tmp_path_factory.mktemp('tiny')
    tiny_model(d/'model')
    return d

def base_over(tiny, out):
    return {'model.name_or_path': str(tiny/'model'), 'output_dir': str(out), 'data.max_samples': 96, 'training.max_steps': 6,
            'training.save_every': 2, 'training.eval_every': 3, 'training.report_to': ['tensorboard'], 'lora.r': 8,
            'evaluation.max_test_samples': 6, 'evaluation.max_new_tokens': 8, 'evaluation.bootstrap_samples': 100, 'evaluation.general_text_samples': 16,
            'export.types': ['f16']}

def digest(run: Path) -> dict:
    "What must be identical between an uninterrupted and an interrupted-then-rerun pipeline."
    h = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()
    from safetensors.torch import load_file
    ad = load_file(str(run/'adapter'/'adapter_model.safetensors'))
    return {'adapter': {k: hashlib.sha256(v.numpy().tobytes()).hexdigest() for k, v in ad.items()},
            'merged': {p.name: h(p) for p in sorted((run/'merged').glob('*.safetensors'))},
            'gguf': {p.name: h(p) for p in sorted((run/'gguf').glob('*.gguf'))}}

@pytest.fixture(scope='module')
def reference(tiny, tmp_path_factory):
    "One uninterrupted run, with a planted HF_TOKEN and WANDB_API_KEY in the environment."
    out = tmp_path_factory.mktemp('ref')/'run'
    r = subprocess.run([str(EXE), 'run', 'configs/quickstart.yaml', *sets(base_over(tiny, out))], cwd=ROOT, capture_output=True, text=True,
                       timeout=900, env={**os.environ, 'HF_TOKEN': TOKEN, 'WANDB_API_KEY': WANDB_KEY})  # the real entry point, secrets set at start
    assert r.returncode == 0, r.stderr[-4000:]
    return out, r

LIGHT = """
import sys
from ft_pipeline.cli import main
rc = main(sys.argv[1:])
import ft_pipeline.export  # what `ft-pipeline export` imports before its stage runs
print('heavy:', sorted(m for m in ('peft', 'bitsandbytes', 'ft_pipeline.train') if m in sys.modules))
sys.exit(rc)
"""

def test_prepare_and_export_start_without_peft(tiny, tmp_path):
    "Each stage's module is imported when it runs: `ft-pipeline prepare`, and the modules `export` imports, never import peft or bitsandbytes."
    r = subprocess.run([sys.executable, '-c', LIGHT, 'prepare', 'configs/quickstart.yaml', *sets(base_over(tiny, tmp_path/'run'))],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'heavy: []' in r.stdout, r.stdout[-2000:]

def test_full_run_writes_every_stage_and_summary(reference):
    out, r = reference
    for s in ('prepare', 'train', 'evaluate', 'merge', 'export'):
        assert json.loads((out/'stages'/f'{s}.json').read_text())['status'] == 'done'
    assert (out/'summary.md').is_file() and 'ft-pipeline infer' in r.stdout
    assert list((out/'gguf').glob('*.gguf')) and (out/'gguf'/'Modelfile').is_file() and (out/'model_card.md').is_file()

def test_hf_token_never_written_or_logged(reference):
    out, r = reference
    assert TOKEN not in r.stdout + r.stderr and WANDB_KEY not in r.stdout + r.stderr
    leaks = [p for p in out.rglob('*') if p.is_file() and (TOKEN.encode() in p.read_bytes() or WANDB_KEY.encode() in p.read_bytes())]
    assert leaks == [], leaks

def test_rerun_skips_everything(reference, tiny):
    out, _ = reference
    before = {p: p.stat().st_mtime_ns for p in (out/'stages').glob('*.json')}
    r = ftp('run', 'configs/quickstart.yaml', *sets(base_over(tiny, out)))
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'up to date, skipped' in r.stderr
    assert {p: p.stat().st_mtime_ns for p in (out/'stages').glob('*.json')} == before

def test_sigkill_during_training_then_rerun_gives_the_same_result(reference, tiny, tmp_path):
    """A kill from outside at a random moment of training: the rerun's adapter, merged weights and GGUF equal the uninterrupted run's.
    Kills in every stage at fixed points (as it starts, before each atomic rename, after its last write) are tests/test_faults.py's matrix."""
    ref, _ = reference
    out = tmp_path/'run'
    p = start_cli('run', 'configs/quickstart.yaml', *sets(base_over(tiny, out)), cwd=ROOT)
    marker = out/'stages'/'train.json'
    t0 = time.time()
    while not (marker.is_file() and json.loads(marker.read_text())['status'] == 'running'):
        assert p.poll() is None, p.communicate()[1][-3000:]
        assert time.time() - t0 < 600
        time.sleep(0.01)
    time.sleep(random.Random('train').uniform(0.05, 0.6))
    p.send_signal(signal.SIGKILL); p.wait()
    r = ftp('run', 'configs/quickstart.yaml', *sets(base_over(tiny, out)))
    assert r.returncode == 0, r.stderr[-4000:]
    assert digest(out) == digest(ref)

def test_data_file_changed_between_stages_is_noticed(tiny, tmp_path):
    data = tmp_path/'mine.jsonl'
    data.write_text('\n'.join(json.dumps({'instruction': f'Spell {i} in words.', 'output': f'number {i}'}) for i in range(60)))
    over = {**base_over(tiny, tmp_path/'run'), 'data.train_file': str(data), 'data.max_samples': None, 'data.near_dup_threshold': 0.0,
            'training.max_steps': 2}
    assert ftp('prepare', 'configs/quickstart.yaml', *sets(over)).returncode == 0
    data.write_text(data.read_text() + '\n' + json.dumps({'instruction': 'Spell 60 in words.', 'output': 'sixty'}))
    r = ftp('train', 'configs/quickstart.yaml', *sets(over))  # train prepares the changed data again itself, saying so
    assert r.returncode == 0 and "stage 'prepare' is out of date" in r.stderr and 'preparing it first' in r.stderr, r.stderr[-3000:]
    assert sum(json.loads((tmp_path/'run'/'reports'/'data_stats.json').read_text())['sizes'].values()) == 61

def test_output_dir_of_another_experiment_is_refused(tiny, tmp_path):
    over = base_over(tiny, tmp_path/'run')
    assert ftp('prepare', 'configs/quickstart.yaml', *sets(over)).returncode == 0
    data = tmp_path/'other.jsonl'
    data.write_text('\n'.join(json.dumps({'instruction': f'Echo {i}.', 'output': f'{i}'}) for i in range(30)))
    other = {**over, 'data.train_file': str(data), 'data.max_samples': None}
    r = ftp('prepare', 'configs/quickstart.yaml', *sets(other))
    assert r.returncode == 2 and 'holds a run of a different model or dataset' in r.stderr and '--overwrite' in r.stderr, r.stderr
    r = ftp('run', 'configs/quickstart.yaml', *sets(other), '--only', 'prepare', '--overwrite')
    assert r.returncode == 0, r.stderr[-3000:]

@pytest.mark.parametrize('content, message', [
    (None, 'no such file'),
    (b'', 'the file is empty (no usable rows)'),
    (b'{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": \n', 'line 2 column 32: broken JSON'),
    (b'\xff\xfe\x00bad', 'line 1: not valid UTF-8'),
])
def test_bad_data_files_exit_2_with_a_clear_message(tiny, tmp_path, content, message):
    f = tmp_path/'train.jsonl'
    if content is not None: f.write_bytes(content)
    r = ftp('prepare', 'configs/quickstart.yaml', *sets({**base_over(tiny, tmp_path/'run'), 'data.train_file': str(f), 'data.max_samples': None}))
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert message in r.stderr and str(f) in r.stderr and 'Traceback' not in r.stderr, r.stderr

class _Evil:
    def __reduce__(self): return (os.system, ('touch /tmp/ft_pipeline_pickle_ran',))

def test_checkpoint_with_code_is_not_executed(tiny, tmp_path):
    from ft_pipeline.checkpoints import write_manifest
    worker = ('import sys, json\nfrom ft_pipeline.config import load_config\nfrom ft_pipeline.train import train\n'
              'train(load_config(None, json.loads(sys.argv[1])))\n')
    over = {**base_over(tiny, tmp_path/'run'), 'training.max_steps': 2, 'training.report_to': []}
    assert ftp('prepare', 'configs/quickstart.yaml', *sets(over)).returncode == 0
    r = run_script(worker, json.dumps(over)); assert r.returncode == 0, r.stderr[-2000:]
    ck = sorted((tmp_path/'run'/'checkpoints').glob('step-*'))[-1]
    (ck/'optimizer.bin').write_bytes(pickle.dumps(_Evil()))
    write_manifest(ck, json.loads((ck/'manifest.json').read_text()) | {'files': None})  # a forger rewrites the checksums too
    Path('/tmp/ft_pipeline_pickle_ran').unlink(missing_ok=True)
    r = run_script(worker, json.dumps(over))  # resume: loads that checkpoint
    assert r.returncode != 0 and 'refusing to load it' in r.stderr, r.stderr[-3000:]
    assert not Path('/tmp/ft_pipeline_pickle_ran').exists()

def test_remote_code_is_not_run_unless_trusted(tmp_path):
    d = tmp_path/'evil'; d.mkdir()
    (d/'config.json').write_text(json.dumps({'model_type': 'evil', 'auto_map': {'AutoConfig': 'evil.EvilConfig', 'AutoModelForCausalLM': 'evil.EvilModel'}}))
    (d/'tokenizer_config.json').write_text(json.dumps({'auto_map': {'AutoTokenizer': ['evil.EvilTok', None]}}))
    (d/'evil.py').write_text(f"open({str(tmp_path/'ran')!r}, 'w').write('code ran')\n")
    r = ftp('prepare', 'configs/quickstart.yaml', '--set', f'model.name_or_path={d}', '--set', f'output_dir={tmp_path/"run"}')
    assert r.returncode == 2 and 'trust_remote_code=true' in r.stderr, r.stderr[-2000:]
    assert not (tmp_path/'ran').exists()

def test_report_figures_written_and_embedded(reference):
    "The run writes its PNGs (real pictures of a sane size) and every image summary.md and eval.md show exists, relative to the report"
    import re
    import numpy as np
    from PIL import Image
    out, _ = reference
    for name in ('loss', 'memory', 'eval_metrics'):
        p = out/'reports'/f'{name}.png'
        im = Image.open(p); w, h = im.size
        assert im.format == 'PNG' and 400 < w < 1400 and 200 < h < 1000 and p.stat().st_size < 200_000, (name, im.size, p.stat().st_size)
        assert np.asarray(im.convert('L')).std() > 10, f'{name}.png looks blank'
    links = {f: re.findall(r'!\[[^\]]*\]\(([^)\s]+)\)', f.read_text()) for f in (out/'summary.md', out/'reports'/'eval.md')}
    assert links[out/'summary.md'] == ['reports/loss.png', 'reports/memory.png', 'reports/eval_metrics.png'], links
    assert links[out/'reports'/'eval.md'] == ['eval_metrics.png'], links
    assert all((f.parent/l).is_file() for f, ls in links.items() for l in ls)
