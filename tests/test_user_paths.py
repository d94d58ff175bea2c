"""The paths a user takes after the quickstart, end to end through `ft-pipeline` (issue 12): own data in every format, with and without
a test set, each training mode, base models with and without a chat template, and the README's own commands as written.

Every case runs on a tiny random model with the bundled tokenizer, on data files of a few dozen rows, so a whole run takes seconds."""
import json, os, re, shlex, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent/'ft-pipeline'

def ftp(*args, cwd=ROOT, timeout=600):
    return subprocess.run([str(EXE), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env={**os.environ, 'PYTHONPATH': str(ROOT)})

def alpaca_rows(n: int, seed: int = 0) -> list[dict]:
    "`n` distinct instruction/output pairs (distinct enough that deduplication keeps them all)."
    words = 'red green blue amber violet cyan ochre teal maroon olive coral ivory'.split()
    return [{'instruction': f'Name the colour that comes after {words[i % 12]} in list {i + seed}.', 'input': f'item {i * 7 + seed}',
             'output': f'{words[(i + 1) % 12]} (list {i + seed}, {i * i + seed} checks)'} for i in range(n)]

def write_jsonl(p: Path, rows: list[dict]) -> Path:
    p.write_text(''.join(json.dumps(r) + '\n' for r in rows)); return p

@pytest.fixture(scope='module')
def tiny(tmp_path_factory) -> Path:
    "A tiny random llama with the bundled tokenizer (which has a chat template)."
    from ft_pipeline.testing import tiny_model
    return tiny_model(tmp_path_factory.mktemp('tiny')/'model')

# --- The README's own-data and GPU commands, as written, with only the model swapped for a tiny one ---------------------------------

def readme_commands(section: str) -> list[str]:
    "The `ft-pipeline` lines of the bash blocks in the README section headed `section` (comments removed)."
    text = (ROOT/'README.md').read_text()
    body = re.search(rf'^## {re.escape(section)}\n(.*?)(?=^## )', text, re.S | re.M).group(1)
    return [l.split('  #')[0].strip() for b in re.findall(r'```bash\n(.*?)```', body, re.S) for l in b.splitlines() if l.startswith('ft-pipeline ')]

def test_readme_has_the_commands_this_suite_runs():
    own, gpu = readme_commands('Your own data'), readme_commands('On a GPU: Llama-3.2-1B-Instruct with QLoRA')
    assert len(own) == 3 and all('data.train_file=' in c for c in own), own
    assert gpu == ['ft-pipeline run configs/llama-3.2-1b-qlora.yaml --set data.train_file=my_data.jsonl'], gpu

@pytest.fixture(scope='module')
def scratch(tmp_path_factory) -> Path:
    "A directory to run the README's commands in: the repository's configs and the data files the commands name."
    d = tmp_path_factory.mktemp('user')
    (d/'configs').symlink_to(ROOT/'configs')
    write_jsonl(d/'my.jsonl', alpaca_rows(60))
    write_jsonl(d/'my_data.jsonl', alpaca_rows(40, seed=1000))
    rows = alpaca_rows(48, seed=500)
    (d/'my.csv').write_text('question,answer\n' + ''.join(f'"{r["instruction"]} {r["input"]}","{r["output"]}"\n' for r in rows))
    return d

def run_readme(cmd: str, scratch: Path, tiny: Path):
    "Run the README command `cmd` in `scratch` with the tiny model; returns the result and the run directory."
    from ft_pipeline.config import load_config
    args = shlex.split(cmd)[1:] + ['--set', f'model.name_or_path={tiny}']
    r = ftp(*args, cwd=scratch)
    assert r.returncode == 0, (cmd, r.stderr[-4000:])
    over = [a for k, a in zip(args, args[1:]) if k == '--set']
    return r, scratch/load_config(scratch/args[1], over).output_dir

@pytest.mark.parametrize('i', range(3))
def test_readme_own_data_commands_run_as_written(scratch, tiny, i):
    cmd = readme_commands('Your own data')[i]
    r, out = run_readme(cmd, scratch, tiny)
    summary, eval_md = (out/'summary.md').read_text(), (out/'reports'/'eval.md').read_text()
    assert summary in r.stdout and list((out/'gguf').glob('*.gguf'))
    if 'test_split' in cmd:
        assert '| exact_match |' in summary and 'test prompts, greedy' in summary, summary
    else:  # no test set: perplexity only, and both reports say so and how to get task metrics
        for text in (summary, eval_md):
            assert 'perplexity on' in text and 'no task metrics' in text and '--set data.test_split=0.1' in text, text
        assert '| response perplexity |' in summary and 'exact_match' not in summary
