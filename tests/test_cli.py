"CLI behaviour seen from a shell: exit codes and messages of the installed `ft-pipeline` console script."
import subprocess, sys, yaml
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
