"CLI behaviour seen from a shell: exit codes and messages of the installed `ft-pipeline` console script."
import json, subprocess, sys, yaml
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent/'ft-pipeline'

def ftp(*args, **kw):
    return subprocess.run([str(EXE), *args], cwd=ROOT, capture_output=True, text=True, timeout=300, **kw)

def test_bad_value_exits_2_naming_the_key():
    r = ftp('config', 'configs/quickstart.yaml', '--set', 'training.learning_rate=abc')
    assert r.returncode == 2, r
    assert "training.learning_rate: 'abc'" in r.stderr
    assert 'Traceback' not in r.stderr

def test_unknown_key_and_missing_file_exit_2():
    r = ftp('config', 'configs/quickstart.yaml', '--set', 'lora.rank=8')
    assert r.returncode == 2 and "Did you mean 'r'?" in r.stderr
    r = ftp('config', 'configs/nope.yaml')
    assert r.returncode == 2 and 'configs/nope.yaml does not exist' in r.stderr

def test_config_prints_resolved_overridden_yaml():
    r = ftp('config', 'configs/quickstart.yaml', '--set', 'training.epochs=2', '--set', 'lora.target_modules=[q_proj,v_proj]')
    assert r.returncode == 0, r.stderr
    cfg = yaml.safe_load(r.stdout)
    assert cfg['training']['epochs'] == 2 and cfg['lora']['target_modules'] == ['q_proj', 'v_proj']

def test_doctor_reports_and_hides_token():
    tok = 'hf_' + 'x'*34
    r = ftp('doctor', env={'PATH': '/usr/bin:/bin', 'HOME': str(Path.home()), 'HF_TOKEN': tok})
    assert r.returncode == 0, r.stderr
    rep = yaml.safe_load(r.stdout)
    assert rep['hub']['HF_TOKEN'] == 'set (hidden)'
    assert tok not in r.stdout + r.stderr
    assert rep['bundled_model']['gguf'].endswith('SmolLM2-135M-Instruct.Q4_1.gguf')
    assert rep['device']['chosen'] in ('cpu', 'cuda', 'mps')

def _model_with_code(d: Path, marker: Path) -> Path:
    "A model directory whose config and tokenizer point at its own Python file, which leaves `marker` behind when it is imported."
    d.mkdir(parents=True, exist_ok=True)
    (d/'config.json').write_text(json.dumps({'model_type': 'evil', 'auto_map': {'AutoConfig': 'evil.EvilConfig', 'AutoModelForCausalLM': 'evil.EvilModel'}}))
    (d/'tokenizer_config.json').write_text(json.dumps({'auto_map': {'AutoTokenizer': ['evil.EvilTok', None]}}))
    (d/'evil.py').write_text(f"open({str(marker)!r}, 'w').write('code ran')\n")
    return d

def test_infer_takes_trust_remote_code_only_from_its_flag(tmp_path, capsys):
    "A run directory cannot make `infer` run a model repo's code: not by its config.yaml, its base model or its merged/ model."
    from ft_pipeline.cli import main
    from ft_pipeline.config import load_config, save_config
    marker, run = tmp_path/'ran', tmp_path/'run'
    evil = _model_with_code(tmp_path/'evil', marker)
    (run/'adapter').mkdir(parents=True); (run/'adapter'/'adapter_config.json').write_text('{}')
    _model_with_code(run/'merged', marker)
    def infer(trust_in_file: bool, *flags):
        save_config(load_config(None, {'model.name_or_path': str(evil), 'model.trust_remote_code': trust_in_file}), run/'config.yaml')
        rc = main(['infer', str(run), 'hi', *flags])
        return rc, capsys.readouterr().err
    rc, err = infer(True)
    assert rc == 2 and 'sets model.trust_remote_code=true' in err and 'pass --trust-remote-code' in err, err
    rc, err = infer(False)
    assert rc == 2 and f'model {evil} ships its own Python code, which infer runs only with --trust-remote-code' in err, err
    rc, err = infer(False, '--model', 'merged')
    assert rc == 2 and f"{run/'merged'} ships its own Python code" in err, err
    assert not marker.exists()
    infer(True, '--trust-remote-code')  # the flag is what allows it: now the model's code runs (and, being no model, fails)
    assert marker.read_text() == 'code ran'
