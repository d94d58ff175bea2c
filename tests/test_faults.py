"""The fault suite of issue 13: each test injects one real fault (a config edit mid-run, a second run, a killed run's leftovers, ...)
and checks the exit code, the message, the files left intact and the rerun. In-process through `cli.main` where a real process is not
the point; a tiny random model, a few steps. `python bench/fault_table.py` runs it and renders the table of nbs/08_pipeline."""
import hashlib, json, os, re, shutil, signal, subprocess, sys, time
from pathlib import Path

import pytest
from procs import run_script

ROOT = Path(__file__).resolve().parents[1]
CFG = str(ROOT/'configs'/'quickstart.yaml')
ROWS = []  # one per injected fault, for the fault table (written when FT_FAULT_TABLE names a file)

def record(fault: str, rc: int, message: str, intact: str, rerun_equal, output: str = ''):
    "One row of the fault table: the fault, the exit code, the message a user sees, what survived, whether the rerun matches."
    message = re.sub(r'/tmp/pytest-of-[^/]+/pytest-\d+/[^/\s]+', '<tmp>', message.strip())  # the table shows where, not which tmp dir
    ROWS.append({'fault': fault, 'exit_code': rc, 'message': message.splitlines()[-1][:300] if message else '',
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

# ---- item 8: the whole pipeline, stage by stage: SIGKILL at three points, a full disk, corrupt files

FAST = {'data.max_samples': 48, 'lora.dropout': 0.0, 'evaluation.max_test_samples': 2, 'evaluation.max_new_tokens': 4, 'evaluation.bootstrap_samples': 100,
        'evaluation.general_text_samples': 16,
        'evaluation.num_examples': 1, 'merge.verify_samples': 2, 'export.types': ['f16'], 'export.verify_samples': 1,
        'export.verify_max_tokens': 8, 'export.verify_new_tokens': 2}
RESULT = {'prepare': 'reports/data_stats.json', 'train': 'adapter/adapter_model.safetensors', 'evaluate': 'reports/eval.json',
          'merge': 'merged/model.safetensors', 'export': 'gguf/model-ft-F16.gguf'}  # the GGUF is named after the base model's directory

def result_of(out: Path, stage: str):
    "What must not change when a stage is redone after a fault: its weights bitwise, its report's numbers (run paths and clocks aside)."
    if stage == 'prepare':  # every prepared row, split by split
        from ft_pipeline.data import load_prepared
        return {k: hashlib.sha256(json.dumps(ds.to_dict()).encode()).hexdigest() for k, ds in load_prepared(out).items()}
    p = out/RESULT[stage]
    if p.suffix != '.json': return _sha(p)
    d = json.loads(p.read_text().replace(str(out), '<out>'))
    return {k: d[k] for k in ('perplexity', 'task_metrics', 'comparison', 'general_text_ppl')}

@pytest.fixture(scope='module')
def stages(tiny, tmp_path_factory):
    "The uninterrupted run, one stage at a time: a copy of the run dir before each stage, each stage's result and atomic renames."
    import ft_pipeline.pipeline as pl
    from ft_pipeline.cli import main
    base = tmp_path_factory.mktemp('stages')
    out, o = base/'run', over(tiny, base/'run', **FAST)
    renames, now, real_replace, real_call = {}, {}, os.replace, pl._call_stage
    def call(fn, cfg, s): now['s'] = s; return real_call(fn, cfg, s)
    def replace(a, b, *k, **kw):
        if 's' in now: renames.setdefault(now['s'], []).append(str(Path(b).relative_to(out)) if str(b).startswith(str(out)) else str(b))
        return real_replace(a, b, *k, **kw)
    mp = pytest.MonkeyPatch()
    mp.setattr(pl, '_call_stage', call); mp.setattr(os, 'replace', replace)
    before, results = {}, {}
    try:
        for s in pl.STAGES:
            before[s] = base/f'before-{s}'
            if out.exists(): shutil.copytree(out, before[s], symlinks=True)
            now.clear()
            assert main(['run', CFG, *sets(o), '--only', s]) == 0
            results[s] = result_of(out, s)
    finally: mp.undo()
    return {'out': out, 'over': o, 'before': before, 'results': results, 'renames': renames}

def copy_before(stages: dict, stage: str, dest: Path) -> tuple[Path, dict]:
    "A run dir in `dest` as the uninterrupted run left it before `stage`, and its overrides."
    src = stages['before'][stage]
    if src.exists(): shutil.copytree(src, dest, symlinks=True)
    else: dest.mkdir(parents=True)
    (dest/'.ft-pipeline.lock').unlink(missing_ok=True)
    return dest, {**stages['over'], 'output_dir': str(dest)}

def earlier_files(d: Path, stage: str) -> dict:
    "Checksums of the files that earlier stages wrote (the run's own bookkeeping aside): a fault in `stage` must leave them alone."
    from ft_pipeline.pipeline import OUTPUTS, STAGES
    mine = OUTPUTS[stage] + ('stages', 'config.yaml', 'summary.md', '.ft-pipeline.lock', '.ft-pipeline-files.json')
    return {k: v for k, v in snapshot(d).items() if not any(k == m or k.startswith(m + '/') for m in mine)}

def untouched(d: Path, files: dict) -> bool:
    "Whether every file of the snapshot `files` is still in `d`, unchanged."
    now = snapshot(d)
    return all(now.get(k) == v for k, v in files.items())

KILLER = '''
import os, signal, sys
import ft_pipeline.pipeline as pl
from ft_pipeline.cli import main
stage, point, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
die = lambda: os.kill(os.getpid(), signal.SIGKILL)  # the same death as kill -9 from outside, at a reproducible place
now, real_call, real_replace, real_marker = {}, pl._call_stage, os.replace, pl.write_marker
def call(fn, cfg, s):
    now['s'] = s
    if s == stage and point == 'start': die()
    return real_call(fn, cfg, s)
def replace(a, b, *k, **kw):
    if now.get('s') == stage and point == 'mid':
        now['n'] = now.get('n', 0) + 1
        if now['n'] == n: die()
    return real_replace(a, b, *k, **kw)
def marker(out, s, **info):
    if s == stage and point == 'end' and info.get('status') == 'done': die()
    return real_marker(out, s, **info)
pl._call_stage, os.replace, pl.write_marker = call, replace, marker
sys.exit(main(sys.argv[4:]))
'''
POINTS = {'start': 'as it starts (its marker says running)', 'mid': 'before atomic rename {n} of {of} ({what})',
          'end': 'after its last write, before its marker says done'}

@pytest.mark.parametrize('point', ['start', 'mid', 'end'])
@pytest.mark.parametrize('stage', ['prepare', 'train', 'evaluate', 'merge', 'export'])
def test_sigkill_in_every_stage_then_rerun_equals_the_uninterrupted_run(stages, tmp_path, capsys, stage, point):
    from ft_pipeline.checkpoints import check_checkpoint
    out, o = copy_before(stages, stage, tmp_path/'run')
    earlier = earlier_files(out, stage)
    ren = stages['renames'][stage]
    n = (len(ren) + 1) // 2
    p = run_script(KILLER, stage, point, n, stage, CFG, *sets(o))  # a process of its own, forked with the imports done (tests/procs.py)
    where = POINTS[point].format(n=n, of=len(ren), what=ren[n - 1])
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stderr[-3000:])
    assert json.loads((out/'stages'/f'{stage}.json').read_text())['status'] == 'running'
    assert untouched(out, earlier)  # nothing an earlier stage wrote was touched
    cks = [c for c in (out/'checkpoints').glob('step-*')] if (out/'checkpoints').is_dir() else []
    assert all(check_checkpoint(c) is None for c in cks), [check_checkpoint(c) for c in cks]
    rc, err = cli(capsys, stage, CFG, *sets(o))
    equal = rc == 0 and result_of(out, stage) == stages['results'][stage]
    left = sorted(str(q.relative_to(out)) for q in out.rglob('*') if 'tmp' in q.name)
    record(f'SIGKILL in {stage} {where}', rc, 'rerun: ' + ('finished' if rc == 0 else err),
           f"earlier stages' files, {len(cks)} checkpoint(s)" if stage == 'train' else "earlier stages' files", equal, err)
    assert rc == 0 and 'Traceback' not in err, err[-3000:]
    assert equal, (result_of(out, stage), stages['results'][stage])
    assert left == [], left  # the killed run's temporaries are gone

@pytest.mark.parametrize('stage,leave', [('prepare', 0), ('evaluate', 0), ('merge', 1 << 20), ('export', 1 << 20), ('export-marker', 0)])
def test_disk_full_in_every_writing_stage_exits_2_and_the_rerun_finishes(stages, tmpfs, monkeypatch, capsys, stage, leave):
    "The disk fills up while `stage` runs (leaving `leave` bytes: a big file is cut short, a small one never starts); export-marker: "
    "right after export, when the pipeline writes the stage's marker."
    import ft_pipeline.pipeline as pl
    st = stage.split('-')[0]
    out, o = copy_before(stages, st, tmpfs/'run')
    earlier, real_fn = earlier_files(out, st), pl._stage_fn
    def fill(): 
        with open(tmpfs/'ballast', 'wb') as f: f.write(b'\0' * max(shutil.disk_usage(tmpfs).free - leave, 0))
    def fn(s):
        real = real_fn(s)
        def full(cfg):
            if stage == st: fill()
            r = real(cfg)
            if stage != st: fill()
            return r
        return full if s == st else real
    monkeypatch.setattr(pl, '_stage_fn', fn)
    rc, err = cli(capsys, st, CFG, *sets(o))
    monkeypatch.setattr(pl, '_stage_fn', real_fn)
    intact = untouched(out, earlier)
    cks = sorted(p.name for p in (out/'checkpoints').glob('step-*')) if st != 'prepare' else []
    record(f'disk full during {st}' + (' (its marker)' if stage != st else f" ({'a big file cut short' if leave else 'nothing fits'})"),
           rc, err, "earlier stages' files" + (f", checkpoints {', '.join(cks)}" if cks else ''), None, err)
    assert rc == 2 and 'Traceback' not in err, err[-3000:]
    assert 'disk full while writing' in err and 'free space' in err, err
    assert intact
    left = sorted(str(q.relative_to(out)) for q in out.rglob('*') if 'tmp' in q.name)
    assert left == [], left  # the half-written temporaries gave their space back
    (tmpfs/'ballast').unlink()
    rc, err = cli(capsys, st, CFG, *sets(o))
    ROWS[-1]['rerun_equal'] = rc == 0 and result_of(out, st) == stages['results'][st]
    assert rc == 0, err[-3000:]
    assert ROWS[-1]['rerun_equal']

def truncate(p: Path):
    "Cut `p` to half its size, as an interrupted copy or a full disk leaves a file."
    b = p.read_bytes(); p.write_bytes(b[:len(b) // 2])

@pytest.mark.parametrize('what', ['checkpoint', 'adapter', 'merged shard', 'GGUF'])
def test_corrupt_file_is_named_and_the_rerun_repairs_it(stages, tmp_path, capsys, caplog, what):
    "A file cut short in a finished run: the stage reading it refuses, naming it; `run` redoes (train: resumes) the stage that wrote it."
    from ft_pipeline.checkpoints import list_checkpoints
    stage = {'checkpoint': 'train', 'adapter': 'train', 'merged shard': 'merge', 'GGUF': 'export'}[what]
    out, o = tmp_path/'run', {**stages['over'], 'output_dir': str(tmp_path/'run')}
    shutil.copytree(stages['out'], out, symlinks=True); (out/'.ft-pipeline.lock').unlink(missing_ok=True)
    f = {'checkpoint': list_checkpoints(out/'checkpoints')[-1]/'model.safetensors', 'adapter': out/RESULT['train'],
         'merged shard': out/RESULT['merge'], 'GGUF': out/RESULT['export']}[what]
    if what == 'checkpoint': interrupt(out)  # killed after its last save, before the stage finished
    others = {k: v for k, v in snapshot(out/'checkpoints').items() if not (out/'checkpoints'/k).is_relative_to(f.parent)}
    truncate(f)
    nxt = {'adapter': 'evaluate', 'merged shard': 'export'}.get(what)
    if nxt:  # the stage that reads it refuses, naming the file and the command that redoes it
        rc, err = cli(capsys, 'run', CFG, *sets(o), '--only', nxt)
        assert rc == 2 and str(f.relative_to(out)) in err and f'run it first: ft-pipeline {stage} CONFIG' in err and 'Traceback' not in err, err[-3000:]
    rc, err = cli(capsys, 'run', CFG, *sets(o))
    equal = rc == 0 and result_of(out, stage) == stages['results'][stage]
    named = next((l for l in (caplog.text + err).splitlines() if f.name in l and ('unusable' in l or 'running it again' in l)), '')
    record(f'corrupt {what} ({f.relative_to(out)} cut to half), then ft-pipeline run', rc, named[named.find(': ') + 2:] or err,
           'the other checkpoints', equal, err)
    assert rc == 0 and 'Traceback' not in err, err[-3000:]
    assert named, err[-3000:]  # the damaged file is named
    assert equal
    assert untouched(out/'checkpoints', others)

# ---- training faults through the CLI: NaN, out of memory, SIGTERM

@pytest.mark.parametrize('fault', ['NaN', 'OOM', 'SIGTERM'])
def test_training_fault_recovers(stages, tmp_path, monkeypatch, capsys, fault):
    "NaN on steps 3 and 4 (rolled back), out of memory at step 3 (split and redone), SIGTERM during step 3 (saved, exit 130, resumed)."
    import ft_pipeline.train as tr
    from ft_pipeline.testing import inject_faults
    from safetensors.torch import load_file
    out, o = copy_before(stages, 'train', tmp_path/'run')
    if fault == 'NaN': o['training.nan_skip_limit'] = 2
    real = tr.train_step
    def sigterm_in_step_3(run, batches):
        if run.state.step == 2: os.kill(os.getpid(), signal.SIGTERM)  # a real signal, handled by the run's handler
        return real(run, batches)
    if fault == 'SIGTERM': monkeypatch.setattr(tr, 'train_step', sigterm_in_step_3)
    with inject_faults(**{'NaN': {'nan': [3, 4]}, 'OOM': {'oom': [3]}, 'SIGTERM': {}}[fault]): rc, err = cli(capsys, 'train', CFG, *sets(o))
    monkeypatch.setattr(tr, 'train_step', real)
    cks = sorted(p.name for p in (out/'checkpoints').glob('step-*'))
    if fault == 'SIGTERM':
        msg = err.strip().splitlines()[-1]
        assert rc == 130 and msg.startswith('stopped by SIGTERM after step 3; checkpoint saved'), err[-3000:]
        assert cks[-1] == 'step-000003', cks
        rc2, err2 = cli(capsys, 'train', CFG, *sets(o))
        assert rc2 == 0 and 'step-000003' in json.loads((out/'reports'/'train.json').read_text())['resumed_from'], err2[-3000:]
    else: msg = '; '.join(f"step {i['step']}: {i['reason']} -> {i['action']}" for i in json.loads((out/'reports'/'train.json').read_text())['interventions'])
    a, ref = load_file(str(out/RESULT['train'])), load_file(str(stages['out']/RESULT['train']))
    diff = max(float((a[k] - ref[k]).abs().max()) for k in ref)
    record({'NaN': 'NaN loss on steps 3 and 4 (nan_skip_limit 2)', 'OOM': 'out of memory at step 3',
            'SIGTERM': 'SIGTERM during step 3, then rerun'}[fault], rc, msg, 'checkpoints ' + ', '.join(cks),
           {'NaN': None, 'OOM': diff < 1e-5, 'SIGTERM': diff == 0}[fault], err)
    assert 'Traceback' not in err
    if fault == 'NaN':
        assert rc == 0 and 'rolled back to step-000002, learning rate x0.5' in msg, msg
    if fault == 'OOM': assert rc == 0 and 'split each micro-batch in 2' in msg and diff < 1e-5, (msg, diff)
    if fault == 'SIGTERM': assert diff == 0, diff  # bitwise the uninterrupted run's adapter

# ---- item 5: faults agree across processes: 2 processes under torchrun (gloo on CPU), the fault on rank 1 only

RANK = '''
import os, signal, sys, time
from pathlib import Path
side, fault, rank = Path(sys.argv[1]), sys.argv[2], int(os.environ['RANK'])
os.dup2(os.open(side/f'rank{rank}.err', os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)  # each rank's own messages, in its own file
import ft_pipeline.train as tr
from ft_pipeline.cli import main
from ft_pipeline.testing import inject_faults
real = tr.train_step
def sigterm_in_step_3(run, batches):
    if run.state.step == 2: (side/'signalled').write_text(str(time.time())); os.kill(os.getpid(), signal.SIGTERM)
    return real(run, batches)
if rank == 1 and fault == 'SIGTERM': tr.train_step = sigterm_in_step_3
import accelerate.accelerator as aa
real_save = aa.save_accelerator_state
def slow_save(*a, **k): time.sleep(2); return real_save(*a, **k)  # rank 1 writes its share of a checkpoint last
if rank == 1 and fault == 'slow-save': aa.save_accelerator_state = slow_save
with inject_faults(**{'OOM': {'oom': [1]}, 'NaN': {'nan': [3, 4]}}.get(fault, {}) if rank == 1 else {}): rc = main(sys.argv[3:])
(side/f'rank{rank}.rc').write_text(str(rc))
sys.exit(rc)
'''

def torchrun(out: Path, o: dict, fault: str = '') -> tuple[subprocess.CompletedProcess, list[int | None], list[str]]:
    "`ft-pipeline train` in 2 processes with `fault` injected on rank 1: torchrun's result, each rank's exit code and stderr (kept in a "
    "directory of its own next to `out`, one per launch)."
    side = out.parent/f'{out.name}-ranks-{fault or "none"}-{len(list(out.parent.glob(out.name + "-ranks-*")))}'; side.mkdir()
    r = subprocess.run([str(Path(sys.executable).parent/'torchrun'), '--standalone', '--nproc_per_node', '2', '--no-python', sys.executable,
                        '-c', RANK, str(side), fault, 'train', CFG, *sets(o)], capture_output=True, text=True, timeout=600)
    rcs = [int((side/f'rank{i}.rc').read_text()) if (side/f'rank{i}.rc').exists() else None for i in (0, 1)]
    return r, rcs, [(side/f'rank{i}.err').read_text() for i in (0, 1)]

@pytest.fixture(scope='module')
def two_procs(tiny, tmp_path_factory):
    "Prepared data (copied for each fault) and the uninterrupted 2-process run's adapter; 7 steps cross the end of the first epoch, where "
    "rank 1 gets no micro-batch."
    from safetensors.torch import load_file
    base = tmp_path_factory.mktemp('two_procs')
    o = over(tiny, base/'prepared', **{'training.max_steps': 7, 'lora.dropout': 0.0})
    from ft_pipeline.cli import main
    assert main(['run', CFG, *sets(o), '--only', 'prepare']) == 0
    (base/'prepared'/'.ft-pipeline.lock').unlink(missing_ok=True)
    ref = base/'ref'; shutil.copytree(base/'prepared', ref)
    r, rcs, errs = torchrun(ref, {**o, 'output_dir': str(ref)})
    assert r.returncode == 0 and rcs == [0, 0], (r.stderr[-3000:], errs[0][-3000:])
    return base/'prepared', o, load_file(str(ref/RESULT['train']))

def _two_proc_copy(two_procs, dest: Path) -> tuple[Path, dict, dict]:
    prepared, o, ref = two_procs
    shutil.copytree(prepared, dest)
    return dest, {**o, 'output_dir': str(dest)}, ref

def _max_diff(out: Path, ref: dict) -> float:
    from safetensors.torch import load_file
    a = load_file(str(out/RESULT['train']))
    return max(float((a[k] - ref[k]).abs().max()) for k in ref)

def test_two_processes_sigterm_to_one_rank_both_save_and_exit_130(two_procs, tmp_path):
    from ft_pipeline.checkpoints import check_checkpoint
    out, o, ref = _two_proc_copy(two_procs, tmp_path/'run')
    r, rcs, errs = torchrun(out, o, 'SIGTERM')
    side = out.parent/'run-ranks-SIGTERM-0'
    took = max((side/f'rank{i}.rc').stat().st_mtime for i in (0, 1) if (side/f'rank{i}.rc').exists()) - float((side/'signalled').read_text())
    last = [next((l for l in reversed(e.splitlines()) if l.startswith('stopped by')), e.strip()[-300:]) for e in errs]  # what each rank says
    cks = sorted(p.name for p in (out/'checkpoints').iterdir())
    complete = check_checkpoint(out/'checkpoints'/cks[-1])  # None: intact (read before the rerun prunes it)
    r2, rcs2, errs2 = torchrun(out, o)  # rerun: resumes from the stop checkpoint and finishes
    diff = _max_diff(out, ref) if rcs2 == [0, 0] else None
    record('2 processes: SIGTERM to rank 1 during step 3, then rerun', rcs[1], f'both ranks exit {rcs} {took:.1f} s after the signal; rank 0: {last[0]}',
           'checkpoints ' + ', '.join(cks), diff == 0, errs[0] + errs[1])
    assert rcs == [130, 130], (rcs, r.stderr[-2000:], errs[0][-2000:], errs[1][-2000:])
    assert last[1].startswith('stopped by SIGTERM after step 3; checkpoint saved'), errs[1][-2000:]
    assert last[0].startswith('stopped by a stop signal to another process after step 3; checkpoint saved'), errs[0][-2000:]
    assert took < 60, took
    assert cks[-1] == 'step-000003' and complete is None, (cks, complete)  # one stop checkpoint, complete
    assert r2.returncode == 0 and rcs2 == [0, 0], (r2.stderr[-2000:], errs2[0][-2000:])
    assert 'step-000003' in json.loads((out/'reports'/'train.json').read_text())['resumed_from']
    assert diff == 0, diff  # bitwise the uninterrupted 2-process run's adapter

@pytest.mark.parametrize('fault', ['OOM', 'NaN'])
def test_two_processes_fault_on_one_rank_is_handled_by_both(two_procs, tmp_path, fault):
    "Out of memory in rank 1's first forward: both ranks split and redo the step. NaN loss on rank 1 in steps 3 and 4: both skip, both roll back."
    out, o, ref = _two_proc_copy(two_procs, tmp_path/'run')
    if fault == 'NaN': o['training.nan_skip_limit'] = 2
    r, rcs, errs = torchrun(out, o, fault)
    iv = json.loads((out/'reports'/'train.json').read_text())['interventions'] if rcs == [0, 0] else []
    msg = '; '.join(f"step {i['step']}: {i['reason']} -> {i['action']}" for i in iv)
    want = {'OOM': 'split each micro-batch in 2', 'NaN': 'rolled back to step-000002, learning rate x0.5'}[fault]
    diff = _max_diff(out, ref) if rcs == [0, 0] else None
    record({'OOM': '2 processes: out of memory on rank 1 at step 1', 'NaN': '2 processes: NaN loss on rank 1 at steps 3 and 4 (nan_skip_limit 2)'}[fault],
           r.returncode, msg or r.stderr, 'checkpoints ' + ', '.join(sorted(p.name for p in (out/'checkpoints').glob('step-*'))),
           {'OOM': diff is not None and diff < 1e-5, 'NaN': None}[fault], errs[0] + errs[1])
    assert r.returncode == 0 and rcs == [0, 0], (r.stderr[-2000:], errs[0][-2000:], errs[1][-2000:])
    assert want in msg, msg
    seen = {'OOM': 'split each micro-batch in 2', 'NaN': 'rolled back to step-000002'}[fault]
    assert all(seen in e for e in errs), errs  # each rank took the same decision
    if fault == 'OOM': assert diff < 1e-5, diff

def test_two_processes_checkpoint_holds_every_rank_when_one_writes_late(two_procs, tmp_path):
    "Rank 1 writes its share of each checkpoint (its random states) 2 s after rank 0: the checkpoint is sealed (manifest, rename) only "
    "after every rank wrote, so each one holds both ranks' states and the run equals the uninterrupted one."
    from ft_pipeline.checkpoints import check_checkpoint
    out, o, ref = _two_proc_copy(two_procs, tmp_path/'run')
    r, rcs, errs = torchrun(out, o, 'slow-save')
    cks = sorted((out/'checkpoints').iterdir())
    problems = {c.name: check_checkpoint(c) or ('random_states_1.pkl' not in json.loads((c/'manifest.json').read_text())['files'] and
                                                'no random states of rank 1') for c in cks if c.name.startswith('step-')}
    diff = _max_diff(out, ref) if rcs == [0, 0] else None
    said = next((l for l in (errs[1] + errs[0]).splitlines() if l.startswith('internal error')),  # rank 1's own error first
                "trained; each checkpoint has both ranks' states")
    record('2 processes: rank 1 writes its part of every checkpoint 2 s after rank 0', r.returncode, said,
           'checkpoints ' + ', '.join(c.name for c in cks), diff == 0, errs[0] + errs[1])
    assert r.returncode == 0 and rcs == [0, 0], (r.stderr[-2000:], errs[0][-2000:], errs[1][-2000:])
    assert [c.name for c in cks if not c.name.startswith('step-')] == [], cks  # no .tmp-step-* left by a late rank
    assert not any(problems.values()), problems  # each intact, each with rank 1's random states
    assert diff == 0, diff  # bitwise the uninterrupted 2-process run's adapter
