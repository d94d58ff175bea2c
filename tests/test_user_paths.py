"""The paths a user takes after the quickstart, end to end through `ft-pipeline` (issue 12): own data in every format, with and without
a test set, each training mode, base models with and without a chat template, and the README's own commands as written.

Every case runs on a tiny random model with the bundled tokenizer, on data files of a few dozen rows, so a whole run takes seconds.

The matrix (issue 12 item 1), one `ft-pipeline run` to the end per row:

| data | training.mode | base model | test |
|---|---|---|---|
| alpaca JSONL, no test set | sft | with a chat template | README own-data command 1 |
| alpaca JSONL, `test_split` | sft | with | README own-data command 2 |
| CSV, `format: columns` | sft | with | README own-data command 3 |
| alpaca JSONL, QLoRA (4-bit) | sft | with | README GPU command |
| ShareGPT, `test_file` | sft | with | test_sharegpt_with_a_test_file_gets_task_metrics |
| messages with a system prompt | sft | without (data.chat_template=chatml) | test_messages_with_a_system_prompt_on_a_base_model_... |
| raw text (.txt) | pretrain | without | test_raw_text_pretraining_on_a_base_model_without_a_chat_template |
| alpaca JSONL + raw text mix_file | mixed | with | test_mixed_mode_sft_plus_raw_text |

Raw text needs no chat template in any mode; the matrix runs it in pretrain mode, the documented one. Chat data on a base model without
a template and without `data.chat_template` is refused by preflight, in any mode (test_preflight_refuses_in_seconds_with_every_reason)."""
import json, os, re, shlex, subprocess, sys
from pathlib import Path

import pytest
from ft_pipeline.testing import tiny_model

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

def test_readme_gpu_command_runs_as_written(scratch, tiny):
    "The GPU section's QLoRA command. Where torch sees no GPU, the one other change is training.device=cpu (bitsandbytes 4-bit runs on CPU)."
    import torch
    cmd = readme_commands('On a GPU: Llama-3.2-1B-Instruct with QLoRA')[0]
    if not torch.cuda.is_available(): cmd += ' --set training.device=cpu'
    r, out = run_readme(cmd, scratch, tiny)
    merge = json.loads((out/'reports'/'merge.json').read_text())
    assert merge['strategy'] in ('dequantized', 'original') and json.loads((out/'stages'/'export.json').read_text())['status'] == 'done'
    assert 'QLoRA 4-bit nf4' in (out/'summary.md').read_text()

# --- The matrix: formats x training modes x base models with and without a chat template -------------------------------------------

@pytest.fixture(scope='module')
def bare(tmp_path_factory) -> Path:
    "A tiny random llama whose tokenizer has no chat template (a base model)."
    return tiny_model(tmp_path_factory.mktemp('bare')/'model', seed=1, chat_template=False)

def prose(n: int, seed: int = 0) -> str:
    "`n` varied English sentences: raw text for pre-training."
    nouns = 'river harbour mill orchard bridge lantern meadow quarry tower market'.split()
    verbs = 'floods guards grinds feeds spans lights borders yields overlooks supplies'.split()
    return ' '.join(f'In year {1800 + i + seed} the {nouns[i % 10]} near {nouns[(i * 3 + seed) % 10]} {i % 7 + 2} {verbs[(i + seed) % 10]} '
                    f'the town of {chr(65 + i % 26)}{i * 13 % 97}.' for i in range(n))

def sharegpt(rows): return [{'conversations': [{'from': 'human', 'value': f"{r['instruction']} {r['input']}"}, {'from': 'gpt', 'value': r['output']}]} for r in rows]
def messages(rows): return [{'messages': [{'role': 'system', 'content': 'Answer with the colour and the list only.'},
                                          {'role': 'user', 'content': f"{r['instruction']} {r['input']}"}, {'role': 'assistant', 'content': r['output']}]} for r in rows]

FAST = {'data.max_length': 64, 'data.max_samples': None, 'training.max_steps': 2, 'training.eval_every': 2, 'training.report_to': [],
        'lora.r': 4, 'evaluation.max_test_samples': 4, 'evaluation.max_new_tokens': 4, 'evaluation.bootstrap_samples': 100, 'evaluation.general_text_samples': 16,
        'evaluation.num_examples': 0, 'export.types': ['f16'], 'export.verify': False, 'merge.verify_samples': 2}

def run_case(tmp: Path, model: Path, over: dict) -> Path:
    "`ft-pipeline run configs/quickstart.yaml` with `over` (in this process: the same entry point, without a second interpreter start)."
    from ft_pipeline.cli import main
    out = tmp/'run'
    args = ['run', str(ROOT/'configs'/'quickstart.yaml')]
    for k, v in {**FAST, 'model.name_or_path': str(model), 'output_dir': str(out), **over}.items(): args += ['--set', f'{k}={json.dumps(v) if not isinstance(v, str) else v}']
    assert main(args) == 0, args
    assert all(json.loads((out/'stages'/f'{s}.json').read_text())['status'] == 'done' for s in ('prepare', 'train', 'evaluate', 'merge', 'export'))
    return out

def test_sharegpt_with_a_test_file_gets_task_metrics(tiny, tmp_path):
    train, test = write_jsonl(tmp_path/'chats.jsonl', sharegpt(alpaca_rows(40))), write_jsonl(tmp_path/'test.jsonl', sharegpt(alpaca_rows(6, seed=900)))
    out = run_case(tmp_path, tiny, {'data.train_file': str(train), 'data.test_file': str(test)})
    ev = json.loads((out/'reports'/'eval.json').read_text())
    assert ev['test_samples'] == 4 and 'exact_match' in ev['comparison']
    assert '## Evaluation (4 test prompts, greedy' in (out/'summary.md').read_text()

def test_messages_with_a_system_prompt_on_a_base_model_with_a_named_template(bare, tmp_path):
    train = write_jsonl(tmp_path/'msgs.jsonl', messages(alpaca_rows(40)))
    out = run_case(tmp_path, bare, {'data.train_file': str(train), 'data.chat_template': 'chatml'})
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(out/'merged')  # the merged model carries the template training used
    assert '<|im_start|>system\nAnswer with the colour' in tok.apply_chat_template(messages(alpaca_rows(1))[0]['messages'], tokenize=False)

def test_raw_text_pretraining_on_a_base_model_without_a_chat_template(bare, tmp_path):
    (tmp_path/'corpus.txt').write_text(prose(120))
    out = run_case(tmp_path, bare, {'data.train_file': str(tmp_path/'corpus.txt'), 'training.mode': 'pretrain', 'export.verify': True})
    assert json.loads((out/'reports'/'data_stats.json').read_text())['sizes']['validation'] >= 1
    summary = (out/'summary.md').read_text()
    assert 'no task metrics' in summary and 'Raw text has no prompts' in summary and 'test_split=0.1' not in summary, summary  # a test set is refused for text
    cmp = json.loads((out/'reports'/'eval.json').read_text())['perplexity_comparison']
    assert list(cmp) == ['response', 'overall'], cmp  # no prompt tokens, so no prompt perplexity to compare (was an IndexError)
    assert 'No TEMPLATE' in (out/'gguf'/'Modelfile').read_text()
    assert all(f['verified'] == 'passed' for f in json.loads((out/'reports'/'export.json').read_text())['files'])

def test_mixed_mode_sft_plus_raw_text(tiny, tmp_path):
    train = write_jsonl(tmp_path/'my.jsonl', alpaca_rows(40))
    (tmp_path/'general.txt').write_text(prose(80, seed=7))
    out = run_case(tmp_path, tiny, {'data.train_file': str(train), 'data.mix_file': str(tmp_path/'general.txt'), 'training.mode': 'mixed'})
    assert json.loads((out/'reports'/'data_stats.json').read_text())['sizes'].get('mix', 0) > 0

# --- Preflight: what would fail later is refused in seconds, before anything heavy loads ----------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    "A real 4 MiB tmpfs (root only), unmounted afterwards."
    d = tmp_path/'small'; d.mkdir()
    if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', str(d)], capture_output=True).returncode != 0:
        pytest.skip('mounting a tmpfs needs root')
    yield d
    subprocess.run(['umount', str(d)], check=True)

def test_preflight_refuses_in_seconds_with_every_reason(tmp_path, small_disk):
    """A base model the GGUF writer cannot write and that has no chat template, a max_length beyond its context, a micro-batch that cannot
    fit, a custom metric that does not import, a merge strategy for QLoRA on a LoRA run, a full disk: one exit 2, in seconds, naming all seven."""
    import time
    neox = tiny_model(tmp_path/'neox', arch='gpt_neox', chat_template=False)
    data = write_jsonl(tmp_path/'my.jsonl', alpaca_rows(20))
    t0 = time.perf_counter()
    r = ftp('run', 'configs/quickstart.yaml', '--set', f'model.name_or_path={neox}', '--set', f'data.train_file={data}', '--set', f'output_dir={small_disk/"run"}',
            '--set', 'data.max_length=4096', '--set', 'training.micro_batch_size=100000', '--set', 'evaluation.custom_metric=my_metrics:exact',
            '--set', 'merge.strategy=dequantized', '--set', 'export.types=[f16]')  # f16 only: no K-quant problem, with or without llama.cpp
    took = time.perf_counter() - t0
    assert r.returncode == 2 and took < 30, (took, r.stderr[-3000:])
    for reason in ('preflight found 7 problem(s)', "evaluate: evaluation.custom_metric='my_metrics:exact': cannot import module 'my_metrics'",
                   'merge: merge.strategy=dequantized merges onto the 4-bit base', '--set merge.strategy=auto', "context length: data.max_length=4096 is longer than", '--set data.max_length=1024',
                   f'chat template: data.train_file {data} (alpaca): conversations, rendered with a chat template', 'to train on it as raw text', 'export: ', 'architecture GPTNeoXForCausalLM is not supported by the GGUF export', 'memory: training is predicted to peak at',
                   'training.micro_batch_size=50000', 'disk: the run writes about', '--no-preflight'):
        assert reason in r.stderr, (reason, r.stderr)
    assert 'Traceback' not in r.stderr and not (small_disk/'run'/'data').exists()  # refused before prepare

def test_no_preflight_skips_the_checks(tiny, tmp_path, capsys):
    from ft_pipeline.cli import main
    data = write_jsonl(tmp_path/'my.jsonl', alpaca_rows(24))
    args = ['train', str(ROOT/'configs'/'quickstart.yaml'), '--set', f'model.name_or_path={tiny}', '--set', f'data.train_file={data}',
            '--set', f'output_dir={tmp_path/"run"}', '--set', 'data.max_length=2048', '--set', 'training.max_steps=1', '--set', 'training.report_to=[]']
    assert main(args) == 2 and 'context length: data.max_length=2048' in capsys.readouterr().err
    assert main(args + ['--no-preflight']) == 0   # the user's call: rope models run past their trained context, with garbage beyond it
    assert (tmp_path/'run'/'adapter'/'adapter_model.safetensors').is_file()

# --- Stages prepare what they need, and refuse to start an expensive missing stage --------------------------------------------------

def test_train_prepares_its_data_and_later_stages_name_the_missing_one(tiny, tmp_path, caplog, capsys):
    from ft_pipeline.cli import main
    data = write_jsonl(tmp_path/'my.jsonl', alpaca_rows(24))
    over = ['--set', f'model.name_or_path={tiny}', '--set', f'data.train_file={data}', '--set', f'output_dir={tmp_path/"run"}',
            '--set', 'training.max_steps=1', '--set', 'training.report_to=[]', '--set', 'export.types=[f16]']
    cfgp = str(ROOT/'configs'/'quickstart.yaml')
    for stage, missing in (('evaluate', "stage 'prepare' has not run; stage 'train' has not run in"), ('merge', 'run it first: ft-pipeline train CONFIG')):
        assert main([stage, cfgp, *over]) == 2
        assert missing in capsys.readouterr().err
    caplog.set_level('INFO')
    assert main(['train', cfgp, *over]) == 0
    assert "train needs the prepared data, and stage 'prepare' has not run" in caplog.text and 'preparing it first' in caplog.text
    assert main(['export', cfgp, *over]) == 2
    assert "stage 'evaluate' has not run; stage 'merge' has not run in" in capsys.readouterr().err
