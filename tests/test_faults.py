"""The fault suite of issue 13: each test injects one real fault (a config edit mid-run, a second run, a killed run's leftovers, ...)
and checks the exit code, the message, the files left intact and the rerun. In-process through `cli.main` where a real process is not
the point; a tiny random model, a few steps. `python bench/fault_table.py` runs it and renders the table of nbs/08_pipeline."""
import hashlib, json, os, shutil, signal, subprocess, sys, time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CFG = str(ROOT/'configs'/'quickstart.yaml')
ROWS = []  # one per injected fault, for the fault table (written when FT_FAULT_TABLE names a file)

def record(fault: str, rc: int, message: str, intact: str, rerun_equal, output: str = ''):
    "One row of the fault table: the fault, the exit code, the message a user sees, what survived, whether the rerun matches."
    ROWS.append({'fault': fault, 'exit_code': rc, 'message': message.strip().splitlines()[-1][:300] if message.strip() else '',
                 'intact': intact, 'rerun_equal': rerun_equal, 'traceback': 'Traceback' in output})

@pytest.fixture(scope='module', autouse=True)
def fault_table():
    yield
    if os.environ.get('FT_FAULT_TABLE'):
        with open(os.environ['FT_FAULT_TABLE'], 'a') as f:
            for r in ROWS: f.write(json.dumps(r) + '\n')

def sets(over: dict) -> list[str]:
    return [a for k, v in over.items() for a in ('--set', f'{k}={json.dumps(v) if not isinstance(v, str) else v}')]

def cli(capsys, *args) -> tuple[int, str]:
    "Exit code and stderr of `ft-pipeline ARGS`, in this process."
    from ft_pipeline.cli import main
    capsys.readouterr()
    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err

@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    from ft_pipeline.testing import tiny_model
    return tiny_model(tmp_path_factory.mktemp('tiny')/'model')

def over(tiny, out, **kw) -> dict:
    return {'model.name_or_path': str(tiny), 'output_dir': str(out), 'data.max_samples': 48, 'data.max_length': 128, 'lora.r': 4,
            'training.max_steps': 4, 'training.save_every': 2, 'training.eval_every': 2, 'training.micro_batch_size': 4,
            'training.gradient_accumulation_steps': 1, 'training.report_to': [], **kw}

def snapshot(d: Path) -> dict:
    "Name -> sha256 of every file under `d` (a checkpoint directory: lost or rewritten files show)."
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob('*')) if p.is_file()}

def interrupt(out: Path):
    "What SIGKILL during training leaves: the train marker says running."
    m = out/'stages'/'train.json'
    m.write_text(json.dumps(json.loads(m.read_text()) | {'status': 'running'}))

# ---- item 1: only what changes the trained model invalidates training

@pytest.fixture(scope='module')
def trained(tiny, tmp_path_factory):
    "A finished 4-step training run whose config says `training.resume: never` (checkpoints at steps 2 and 4)."
    from ft_pipeline.cli import main
    out = tmp_path_factory.mktemp('item1')/'run'
    o = over(tiny, out, **{'training.resume': 'never'})
    assert main(['run', CFG, *sets(o), '--only', 'prepare']) == 0
    assert main(['train', CFG, *sets(o)]) == 0
    return out, o, _sha(out/'adapter'/'adapter_model.safetensors')

def _sha(p: Path) -> str: return hashlib.sha256(p.read_bytes()).hexdigest()

def test_cadence_and_logging_edits_resume_the_checkpoints(trained, capsys):
    out, o, _ = trained
    before = snapshot(out/'checkpoints')
    interrupt(out)
    edits = {'training.report_to': ['tensorboard'], 'training.save_every': 3, 'training.keep_last': 4, 'training.eval_every': 1,
             'training.patience': 2, 'training.resume': 'auto'}
    rc, err = cli(capsys, 'train', CFG, *sets({**o, **edits}))
    resumed = json.loads((out/'reports'/'train.json').read_text())['resumed_from']
    record('config edit mid-run: report_to, save_every, keep_last, eval_every, patience, resume', rc, f'resumed from {resumed}',
           'all checkpoints', (resumed or '').endswith('step-000004'), err)
    assert rc == 0, err[-3000:]
    assert (resumed or '').endswith('step-000004'), resumed
    assert all(snapshot(out/'checkpoints').get(k) == v for k, v in before.items()), 'a checkpoint file changed'

def test_train_resume_flag_never_changes_the_hash(trained, capsys):
    out, o, _ = trained
    h = json.loads((out/'stages'/'train.json').read_text())['hash']
    interrupt(out)
    rc, err = cli(capsys, 'train', CFG, *sets(o), '--resume')  # the config says resume: never
    resumed = json.loads((out/'reports'/'train.json').read_text())['resumed_from']
    record('train --resume on a config with resume: never', rc, f'resumed from {resumed}', 'all checkpoints', (resumed or '').endswith('step-000004'), err)
    assert rc == 0 and (resumed or '').endswith('step-000004'), (resumed, err[-3000:])
    assert json.loads((out/'stages'/'train.json').read_text())['hash'] == h

def test_torn_last_metrics_line_is_dropped_on_resume(trained, capsys):
    out, o, _ = trained
    log = out/'logs'/'metrics.jsonl'
    good = log.read_text()
    log.write_text(good + '{"step": 5, "epoch": 0.41, "loss": 2.3')  # a crash (or a full disk) in the middle of a write
    interrupt(out)
    rc, err = cli(capsys, 'train', CFG, *sets(o), '--resume')
    record('torn last line in logs/metrics.jsonl, then resume', rc, 'dropped a torn last line' if rc == 0 else err, 'checkpoints, metrics rows',
           rc == 0 and log.read_text() == good, err)
    assert rc == 0, err[-3000:]
    assert log.read_text() == good


def test_model_changing_edit_exits_2_naming_the_keys_and_restart_moves_them_aside(trained, capsys):
    out, o, _ = trained
    before = snapshot(out/'checkpoints')
    changed = {**o, 'training.learning_rate': 5e-4, 'lora.r': 8, 'training.resume': 'auto'}
    rc, err = cli(capsys, 'train', CFG, *sets(changed))
    record('config edit of a model-changing key (learning_rate, lora.r) with checkpoints', rc, err, 'all checkpoints',
           snapshot(out/'checkpoints') == before, err)
    assert rc == 2 and 'Traceback' not in err, err[-3000:]
    for s in ('lora.r: 4 -> 8', 'training.learning_rate: 0.001 -> 0.0005', '--restart'): assert s in err, (s, err)
    assert snapshot(out/'checkpoints') == before
    rc, err = cli(capsys, 'train', CFG, *sets(changed), '--restart')
    assert rc == 0, err[-3000:]
    old = [p for p in out.iterdir() if p.name.startswith('checkpoints.old-')]
    assert len(old) == 1 and snapshot(old[0]) == before
    assert json.loads((out/'reports'/'train.json').read_text())['resumed_from'] is None

# ---- item 2: one run per output dir; a directory of its own; only our files

def test_second_run_is_refused_naming_the_pid_and_a_killed_holder_is_taken_over(tiny, tmp_path, capsys):
    out = tmp_path/'run'
    hold = f'from ft_pipeline.rundir import lock_run_dir\nwith lock_run_dir({str(out)!r}): print("locked", flush=True); import time; time.sleep(120)'
    p = subprocess.Popen([sys.executable, '-c', hold], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == 'locked'
        rc, err = cli(capsys, 'run', CFG, *sets(over(tiny, out)), '--only', 'prepare')
        record('a second run on the same output dir', rc, err, 'the first run', None, err)
        assert rc == 2 and f'in use by another ft-pipeline run (pid {p.pid} ' in err and 'Traceback' not in err, err[-3000:]
    finally: p.kill(); p.wait()
    rc, err = cli(capsys, 'run', CFG, *sets(over(tiny, out)), '--only', 'prepare')
    record('the run holding the output dir killed (SIGKILL), stale lock', rc, f'taking over the lock of run pid {p.pid}' if rc == 0 else err,
           'everything', rc == 0, err)
    assert rc == 0, err[-3000:]

@pytest.mark.parametrize('where', ['cwd', 'home', 'holds the data'])
def test_output_dir_that_is_not_a_run_dir_is_refused(tiny, tmp_path, monkeypatch, capsys, where):
    work = tmp_path/'project'; (work/'data').mkdir(parents=True)
    data = work/'data'/'train.jsonl'
    data.write_text('\n'.join(json.dumps({'instruction': f'Say {i}.', 'output': f'{i}'}) for i in range(40)))
    if where == 'cwd': monkeypatch.chdir(work)
    if where == 'home': monkeypatch.setenv('HOME', str(work))
    out = {'cwd': '.', 'home': str(work), 'holds the data': str(work)}[where]
    before = snapshot(work)
    rc, err = cli(capsys, 'run', CFG, *sets(over(tiny, out, **{'data.train_file': str(data), 'data.max_samples': None})), '--only', 'prepare')
    record(f'output_dir is {where}', rc, err, "the user's files", None, err)
    assert rc == 2 and 'Traceback' not in err, err[-3000:]
    assert {'cwd': 'is the current working directory', 'home': 'is your home directory', 'holds the data': "holds the run's input"}[where] in err, err
    assert snapshot(work) == before and sorted(p.name for p in work.iterdir()) == ['data']

def test_prepare_refuses_to_replace_a_data_dir_it_did_not_write(tiny, tmp_path, capsys):
    out = tmp_path/'run'; (out/'data').mkdir(parents=True); (out/'data'/'mine.csv').write_text('a,b\n')
    rc, err = cli(capsys, 'run', CFG, *sets(over(tiny, out)), '--only', 'prepare')
    record("prepare into an output dir holding the user's data/", rc, err, "the user's data/", None, err)
    assert rc == 2 and 'already holds data, which ft-pipeline did not write' in err and 'Traceback' not in err, err[-3000:]
    assert (out/'data'/'mine.csv').read_text() == 'a,b\n'

def test_overwrite_deletes_only_what_the_pipeline_wrote(tiny, tmp_path, capsys):
    out = tmp_path/'run'
    assert cli(capsys, 'run', CFG, *sets(over(tiny, out)), '--only', 'prepare')[0] == 0
    (out/'notes.md').write_text('my notes'); (out/'reports'/'my_plot.png').write_bytes(b'png')
    data = tmp_path/'other.jsonl'
    data.write_text('\n'.join(json.dumps({'instruction': f'Echo {i}.', 'output': f'{i}'}) for i in range(40)))
    other = over(tiny, out, **{'data.train_file': str(data), 'data.max_samples': None})
    assert cli(capsys, 'run', CFG, *sets(other), '--only', 'prepare')[0] == 2  # another dataset: refused without --overwrite
    rc, err = cli(capsys, 'run', CFG, *sets(other), '--only', 'prepare', '--overwrite')
    record('--overwrite on a run dir holding user files', rc, 'deleted the previous run (kept what ft-pipeline did not write)', "the user's files", None, err)
    assert rc == 0, err[-3000:]
    assert (out/'notes.md').read_text() == 'my notes' and (out/'reports'/'my_plot.png').read_bytes() == b'png'
    assert json.loads((out/'reports'/'data_stats.json').read_text())['sizes']['train'] > 0

def test_temporaries_of_killed_runs_are_removed(tiny, tmp_path, capsys):
    out = tmp_path/'run'
    assert cli(capsys, 'run', CFG, *sets(over(tiny, out)), '--only', 'prepare')[0] == 0
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True).stdout.strip()
    for d in (f'merged.tmp-original-{dead}', f'data.tmp-{dead}', 'checkpoints/.tmp-step-000009', 'data.tmp-1'):  # pid 1 is alive
        (out/d).mkdir(parents=True); (out/d/'model.safetensors').write_bytes(b'\0' * 4096)
    (out/f'.config.yaml.{dead}-0123abcd.tmp').write_text('half')
    rc, err = cli(capsys, 'run', CFG, *sets(over(tiny, out)), '--only', 'prepare')
    left = sorted(p.name for p in out.iterdir()) + sorted(p.name for p in (out/'checkpoints').iterdir())
    record('orphaned temporaries of a killed run (merged.tmp-*, data.tmp-*, .tmp-step-*)', rc, 'removed on the next run', 'everything else',
           rc == 0, err)
    assert rc == 0, err[-3000:]
    assert not [n for n in left if 'tmp' in n and n != 'data.tmp-1'], left
    assert 'data.tmp-1' in left

# ---- item 4: fp16 loss scaling: an overflow lowers the scale and skips the step, it is not a divergence

def test_fp16_overflow_skips_the_step_and_lowers_the_scale(tiny, tmp_path, monkeypatch):
    "accelerate's fp16 needs a GPU; the same GradScaler path runs on CPU with gradients made infinite on 4 steps in a row."
    import torch, ft_pipeline.train as tr
    from ft_pipeline.config import load_config
    from ft_pipeline.data import prepare
    cfg = load_config(CFG, over(tiny, tmp_path/'run', **{'training.max_steps': 8, 'training.save_every': 4, 'training.eval_every': 4}))
    prepare(cfg)
    real, seen = tr.step_grads, []
    def overflowing(lm, batches, acc=None, splits=1, precision='fp32', scaler=None):
        loss, n = real(lm, batches, acc, splits, precision, scaler)
        seen.append(scaler.get_scale())
        if len(seen) <= 4:  # what fp16 does at a too-high loss scale: scaled gradients become inf, the loss itself is fine
            next(p for p in lm.parameters() if p.requires_grad).grad.view(-1)[0] = float('inf')
        return loss, n
    monkeypatch.setattr(tr, 'step_grads', overflowing)
    with tr.setup(cfg) as run:
        run.scaler = torch.amp.GradScaler('cpu', init_scale=2.**16, growth_interval=1000)
        before = {n: p.detach().clone() for n, p in run.model.named_parameters() if p.requires_grad}
        rows = []
        while run.state.step < run.total:
            row = tr.train_step(run, tr.next_batches(run)); rows.append(row)
            if run.state.step == 4: assert all(torch.equal(before[n], p) for n, p in run.model.named_parameters() if p.requires_grad)
            if tr.skip_nonfinite(run, row): continue
            tr.maybe_evaluate_and_save(run, row)
    rep = tr.finish(run)
    record('fp16 loss-scale overflow on 4 steps in a row', 0, f"loss scale {seen[0]:g} -> {run.scaler.get_scale():g}, 4 steps skipped, no rollback",
           'all checkpoints', rep.steps == 8 and not rep.interventions, '')
    assert [r.get('skipped', False) for r in rows] == [True] * 4 + [False] * 4
    assert seen[:5] == [2.**16, 2.**15, 2.**14, 2.**13, 2.**12] and run.scaler.get_scale() == 2.**12
    assert rep.steps == 8 and rep.interventions == [], rep.interventions  # no rollback, no 'diverged'
    assert any(not torch.equal(before[n], p) for n, p in run.model.named_parameters() if p.requires_grad)  # the finite steps did update

# ---- item 3: a full disk, for real (a size-limited tmpfs), whatever library was writing

@pytest.fixture
def tmpfs(tmp_path):
    if os.geteuid() != 0: pytest.skip('mounting a size-limited tmpfs needs root')
    d = tmp_path/'disk'; d.mkdir()
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', str(d)], capture_output=True, text=True)
    if r.returncode: pytest.skip(f'cannot mount a tmpfs here: {r.stderr.strip()}')
    yield d
    subprocess.run(['umount', '-l', str(d)], check=True)

@pytest.mark.parametrize('writer', ['safetensors', 'torch.save', 'json'])
def test_disk_full_while_training_exits_2_keeps_the_checkpoint_and_the_rerun_finishes(trained, tmpfs, monkeypatch, capsys, writer):
    import ft_pipeline.train as tr
    _, o_ref, ref_adapter = trained
    out = tmpfs/'run'
    o = {**o_ref, 'output_dir': str(out), 'training.resume': 'auto'}
    assert cli(capsys, 'run', CFG, *sets(o), '--only', 'prepare')[0] == 0
    real, saves = tr.write_manifest, []
    def fill_after_first_save(d, state):  # the disk fills up while step 1 and 2 train: the next write meets a real ENOSPC
        real(d, state); saves.append(d)
        if len(saves) > 1: return
        weights = (d/'model.safetensors').stat().st_size
        leave = {'safetensors': 0, 'torch.save': weights + 16384, 'json': 0}[writer]
        if writer != 'json': leave += 8192  # room for the metrics lines of steps 1 and 2
        with open(tmpfs/'ballast', 'wb') as f: f.write(b'\0' * max(shutil.disk_usage(tmpfs).free - leave, 0))
    monkeypatch.setattr(tr, 'write_manifest', fill_after_first_save)
    rc, err = cli(capsys, 'train', CFG, *sets(o))
    monkeypatch.setattr(tr, 'write_manifest', real)
    cks = sorted(p.name for p in (out/'checkpoints').iterdir())
    record(f'disk full during train ({writer} write)', rc, err, ', '.join(cks), None, err)
    assert rc == 2 and 'Traceback' not in err, err[-3000:]
    assert 'disk full while writing' in err and 'checkpoint step 0 is intact; free space' in err, err
    if writer != 'json': assert 'at step 2' in err, err
    assert cks == ['step-000000'], cks  # the half-written step 2 is gone, step 0 is complete
    from ft_pipeline.checkpoints import check_checkpoint
    assert check_checkpoint(out/'checkpoints'/'step-000000') is None
    (tmpfs/'ballast').unlink()
    rc, err = cli(capsys, 'train', CFG, *sets(o))
    ROWS[-1]['rerun_equal'] = rc == 0 and _sha(out/'adapter'/'adapter_model.safetensors') == ref_adapter
    assert rc == 0, err[-3000:]
    assert _sha(out/'adapter'/'adapter_model.safetensors') == ref_adapter

# ---- item 7: secrets on every output path

SECRETS = {'HF_TOKEN': 'hf_PlantedSecretToken1234567890abcdefXYZ', 'WANDB_API_KEY': 'planted0wandb1key2abcdef3456789012345678'}
URL_PASSWORD = 'Pa55w0rd-planted'

def test_secrets_never_reach_output_or_files(tiny, tmp_path):
    "The secrets a user really has: tokens in the environment, a password in a data URL of the config; --debug prints tracebacks."
    out = tmp_path/'run'
    url = f'https://ana:{URL_PASSWORD}@data.example.com/train.jsonl'
    exe = Path(sys.executable).parent/'ft-pipeline'
    r = subprocess.run([str(exe), '--debug', 'run', CFG, *sets(over(tiny, out, **{'data.train_file': url}))], cwd=ROOT,
                       capture_output=True, text=True, env={**os.environ, **SECRETS}, timeout=600)
    printed = r.stdout + r.stderr
    leaks = [k for k, v in {**SECRETS, 'URL password': URL_PASSWORD}.items() if v in printed]
    files = [str(p.relative_to(out)) for p in out.rglob('*') if p.is_file() and any(v.encode() in p.read_bytes() for v in [*SECRETS.values(), URL_PASSWORD])]
    record('secrets (HF_TOKEN, WANDB_API_KEY, a URL password) with --debug and a failing data URL', r.returncode,
           r.stderr.strip().splitlines()[-1] if r.stderr.strip() else '', 'no secret printed or written' if not leaks + files else f'LEAKED: {leaks + files}', None, '')
    assert r.returncode == 2, printed[-3000:]
    assert 'https://***@data.example.com/train.jsonl' in r.stderr, r.stderr[-2000:]
    assert leaks == [] and files == [], (leaks, files)
