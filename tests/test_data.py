"Data preparation seen from a shell: `ft-pipeline prepare` writes data/ and reports/, reuses its cache, and names bad input."
import json, subprocess, sys, yaml
from pathlib import Path
from datasets import load_from_disk

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent/'ft-pipeline'

def prepare_cli(cfg_path, *sets):
    args = [str(EXE), 'prepare', str(cfg_path)] + [a for s in sets for a in ('--set', s)]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)

def write_cfg(tmp_path, name='run', **data):
    "A copy of the quickstart config with `data` keys changed, writing to tmp_path/name."
    cfg = yaml.safe_load((ROOT/'configs'/'quickstart.yaml').read_text())
    cfg['data'].update(data); cfg['output_dir'] = str(tmp_path/name)
    p = tmp_path/f'{name}.yaml'; p.write_text(yaml.safe_dump(cfg)); return p

def test_prepare_bundled_writes_contract_and_reuses_cache(tmp_path):
    cfg = write_cfg(tmp_path)
    r = prepare_cli(cfg)
    assert r.returncode == 0, r.stderr
    out = tmp_path/'run'
    stats = json.loads((out/'reports'/'data_stats.json').read_text())
    assert stats['sizes']['test'] == 200 and stats['cached'] is False
    train = load_from_disk(str(out/'data'/'train'))
    assert set(train.column_names) == {'input_ids', 'labels', 'source', 'sample_id'}
    assert stats['sizes']['train'] == len(train) and len(load_from_disk(str(out/'data'/'validation'))) == stats['sizes']['validation']
    test = load_from_disk(str(out/'data'/'test'))
    assert json.loads(test[0]['messages'])[-1]['role'] == 'assistant'
    mtime = (out/'data'/'train').stat().st_mtime_ns
    r = prepare_cli(cfg)
    assert r.returncode == 0, r.stderr
    assert (out/'data'/'train').stat().st_mtime_ns == mtime  # reused, not rewritten
    r = prepare_cli(cfg, 'data.seed=7')  # a changed data key is a new dataset
    assert r.returncode == 0 and (out/'data'/'train').stat().st_mtime_ns != mtime

def test_prepare_bad_inputs_exit_2_naming_file_and_line(tmp_path):
    bad = tmp_path/'bad.jsonl'
    bad.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": }\n')
    r = prepare_cli(write_cfg(tmp_path, 'bad', train_file=str(bad)))
    assert r.returncode == 2 and 'bad.jsonl line 2 column' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    qa = tmp_path/'qa.csv'; qa.write_text('question,answer\nq,a\n')
    r = prepare_cli(write_cfg(tmp_path, 'qa', train_file=str(qa), format='columns', columns={'instruction': 'question', 'response': 'reply'}))
    assert r.returncode == 2 and "data.columns.response='reply' names no column; the columns are: question, answer" in r.stderr, r.stderr
    r = prepare_cli(write_cfg(tmp_path, 'missing', train_file=str(tmp_path/'missing.jsonl')))
    assert r.returncode == 2 and 'missing.jsonl: no such file' in r.stderr, r.stderr
