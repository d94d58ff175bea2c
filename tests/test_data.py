"""Data preparation: every input row accounted for (every format and file type), values never re-typed, raw text split by chunks, and
`ft-pipeline prepare` in a process of its own (writes data/ and reports/, reuses its cache, names bad input and exits 2)."""
import csv, json, random, yaml
from pathlib import Path

import pyarrow as pa, pyarrow.parquet as pq, pytest
from datasets import Dataset, load_from_disk
from procs import run_cli

ROOT = Path(__file__).resolve().parents[1]

def prepare_cli(cfg_path, *sets):
    "`ft-pipeline prepare CFG --set ...` in a process of its own (forked with the imports done: tests/procs.py)."
    return run_cli('prepare', cfg_path, *[a for s in sets for a in ('--set', s)], cwd=ROOT)

def write_cfg(tmp_path, name='run', **data):
    "A copy of the quickstart config with `data` keys changed, writing to tmp_path/name."
    cfg = yaml.safe_load((ROOT/'configs'/'quickstart.yaml').read_text())
    cfg['data'].update(data); cfg['output_dir'] = str(tmp_path/name)
    p = tmp_path/f'{name}.yaml'; p.write_text(yaml.safe_dump(cfg)); return p

# ---- every malformed-data fixture: kept + drops = rows read ----

# ChatML, except that it raises on any message containing FORBIDDEN: the template_error case
TEMPLATE = ("{% for m in messages %}{% if 'FORBIDDEN' in m['content'] %}{{ raise_exception('forbidden word') }}{% endif %}"
            "{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
            "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
WORDS = 'amber basil cedar delta ember fjord garnet harbor indigo juniper kelp lumen meadow nectar onyx pebble quartz russet'.split()

def good_pairs(n=24):
    "n distinct (question, answer) pairs, unlike each other, long enough that the near-duplicate below is clearly one."
    r = random.Random(0)
    w = lambda: f'{r.choice(WORDS)}{r.randrange(100)}'
    return [(f'Question {i}: sort ' + ' '.join(w() for _ in range(10)) + f' for case {i}.', f'Answer {i}: ' + ' '.join(w() for _ in range(4)))
            for i in range(n)]

def chat(fmt, q, a, system=None):
    if fmt == 'sharegpt':
        return {'conversations': ([{'from': 'system', 'value': system}] if system else []) + [{'from': 'human', 'value': q}, {'from': 'gpt', 'value': a}]}
    return {'messages': ([{'role': 'system', 'content': system}] if system else []) + [{'role': 'user', 'content': q}, {'role': 'assistant', 'content': a}]}

def rows_for(fmt):
    "(rows, expected drop counts) of format `fmt`: good rows plus one row per reason that format can have."
    g = good_pairs()
    near = (g[3][0][:-2] + ' then stop.', g[3][1])  # one word changed at the end of a long question
    common = {'exact_duplicate': 1, 'near_duplicate': 1, 'template_error': 1, 'too_long': 1}
    long_q, bad_q = ('Tell me everything about ' + 'this long topic, ' * 60, 'ok'), ('Is FORBIDDEN allowed?', 'no')
    if fmt in ('alpaca', 'columns'):
        k = ('q', 'a') if fmt == 'columns' else ('instruction', 'output')
        mk = lambda q, a, **kw: {k[0]: q, k[1]: a, **kw}
        rows = [mk(q, a) for q, a in g] + [mk(*g[0]), mk(*near), mk(*bad_q), mk(*long_q), mk('x', None), mk('x', 3), mk(' ', 'y'),
                                           mk('Add 40 and', '42', input=2), mk('Which year?', '1937'), [1, 2]]
        return rows, {**common, 'missing_field': 1, 'non_string_content': 1, 'empty_turn': 1, 'not_a_record': 1}
    if fmt == 'text':
        docs = [{'text': f'{q} {a}'} for q, a in g] + [{'text': f'{g[0][0]} {g[0][1]}'}, {'text': '  '}, {'text': None}, {'text': 7}, 'oops']
        return docs, {'exact_duplicate': 1, 'empty_text': 1, 'missing_field': 1, 'non_string_content': 1, 'not_a_record': 1}
    rows = [chat(fmt, q, a) for q, a in g] + [chat(fmt, *g[0]), chat(fmt, *near), chat(fmt, *bad_q), chat(fmt, *long_q),
                                              chat(fmt, 'q', 3), chat(fmt, ' ', 'y'), chat(fmt, 'q', 'a', system='Be brief.'), [1, 2]]
    conv = rows[-2]['conversations' if fmt == 'sharegpt' else 'messages']
    key, rk, ck = ('conversations', 'from', 'value') if fmt == 'sharegpt' else ('messages', 'role', 'content')
    rows[-2] = {key: conv[1:2] + conv[1:2] + conv[2:]}                                   # user, user, assistant
    rows += [{key: None}, {key: conv[1:2]}, {key: [{rk: 'robot', ck: 'beep'}] + conv[2:]}]
    return rows, {**common, 'non_string_content': 1, 'empty_turn': 1, 'not_a_record': 1, 'bad_turn_order': 1, 'missing_field': 1,
                  'no_final_assistant': 1, 'unknown_role': 1}

def write_as(rows, kind, path):
    "Write `rows` as a `kind` file at `path`; the rows that kind can hold (CSV: flat strings; Parquet/Arrow: one type per column)."
    if kind == 'jsonl': path.write_text(''.join(json.dumps(r) + '\n' for r in rows)); return rows
    if kind == 'json': path.write_text(json.dumps(rows)); return rows
    typed = [r for r in rows if isinstance(r, dict) and all(v is None or isinstance(v, str) or k == 'input' for k, v in r.items())]
    if kind == 'csv':
        typed = [r for r in typed if 'input' not in r]
        cols = list(dict.fromkeys(k for r in typed for k in r))
        with open(path, 'w', newline='') as f:
            w = csv.writer(f); w.writerow(cols); w.writerows([['' if r.get(c) is None else r[c] for c in cols] for r in typed])
        return typed
    t = pa.table({c: [r.get(c) for r in typed] for c in dict.fromkeys(k for r in typed for k in r)})  # from_pylist would take the first row's keys
    if kind == 'parquet': pq.write_table(t, path)
    else: Dataset(t).save_to_disk(str(path))
    return typed

CASES = [('alpaca', 'jsonl'), ('alpaca', 'json'), ('alpaca', 'csv'), ('alpaca', 'parquet'), ('alpaca', 'arrow'), ('columns', 'csv'),
         ('sharegpt', 'jsonl'), ('messages', 'jsonl'), ('messages', 'json'), ('text', 'jsonl'), ('text', 'txt')]

def expected_for(rows, expected, kind):
    "The drops to expect from the rows a file kind could hold (a CSV cell cannot be null or a number; Arrow columns hold one type)."
    if kind == 'jsonl' or kind == 'json': return expected
    exp = dict(expected)
    for k in ('not_a_record', 'non_string_content'): exp.pop(k, None)
    if kind == 'csv' and 'missing_field' in exp: exp.pop('missing_field'); exp['empty_turn'] = exp.get('empty_turn', 0) + 1  # '' cell
    return exp

@pytest.mark.parametrize('fmt, kind', CASES)
def test_every_row_is_accounted_for(tmp_path, fmt, kind):
    from ft_pipeline.config import Config
    from ft_pipeline.data import prepare, load_prepared
    from ft_pipeline.model import load_tokenizer
    rows, expected = rows_for(fmt)
    if kind == 'txt':
        rows, expected = [r for r in rows if isinstance(r, dict) and isinstance(r['text'], str)], {'exact_duplicate': 1, 'empty_text': 1}
        src = tmp_path/'corpus'; src.mkdir()
        for i, r in enumerate(rows): (src/f'doc{i:02d}.txt').write_text(r['text'])
    else:
        src = tmp_path/f'data.{kind}'
        written = write_as(rows, kind, src)
        expected, rows = expected_for(written, expected, kind), written
    data = {'train_file': str(src), 'max_length': 96, 'near_dup_threshold': 0.5, 'validation_split': 0.2, 'chat_template': TEMPLATE}
    if fmt == 'columns': data.update(format='columns', columns={'instruction': 'q', 'response': 'a'})
    rep = prepare(Config.model_validate({'data': data, 'output_dir': str(tmp_path/'run')}))
    assert rep.read == {'train': len(rows)}
    assert rep.kept['train'] + sum(rep.dropped_by_input['train'].values()) == rep.read['train'] and rep.unaccounted() == {}
    assert rep.dropped == expected, (rep.dropped, expected)
    if fmt != 'text': assert rep.sizes['train'] + rep.sizes['validation'] == rep.kept['train']
    if fmt == 'alpaca':  # the string "1937" is learned as the string it is; a numeric input joins the prompt
        dd, tok = load_prepared(tmp_path/'run'), load_tokenizer(Config().model)
        text = [tok.decode(x) for s in dd for x in dd[s]['input_ids']]
        assert any('Which year?<|im_end|>\n<|im_start|>assistant\n1937<|im_end|>' in t for t in text)
        if kind in ('jsonl', 'json', 'parquet', 'arrow'): assert any('Add 40 and\n\n2<|im_end|>' in t for t in text)

def test_no_supervised_tokens_is_its_own_reason(tmp_path):
    from ft_pipeline.config import Config
    from ft_pipeline.data import prepare
    g = good_pairs()
    rows = [{'instruction': q, 'output': a} for q, a in g] + [{'instruction': 'Tell me everything about ' + 'this long topic, ' * 60, 'output': 'ok'},
                                                              {'instruction': 'Summarise.', 'output': 'A long answer, ' * 60}]
    (tmp_path/'d.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows))
    rep = prepare(Config.model_validate({'data': {'train_file': str(tmp_path/'d.jsonl'), 'max_length': 128, 'length_strategy': 'truncate_response'},
                                         'output_dir': str(tmp_path/'run')}))
    assert rep.dropped == {'no_supervised_tokens': 1} and rep.truncated == 1 and rep.unaccounted() == {}

def test_no_usable_rows_names_the_file(tmp_path):
    from ft_pipeline.config import Config
    from ft_pipeline.data import DataError, prepare
    nulls = tmp_path/'nulls.jsonl'; nulls.write_text('{"instruction": "a", "output": null}\n' * 3)
    with pytest.raises(DataError) as e: prepare(Config.model_validate({'data': {'train_file': str(nulls)}, 'output_dir': str(tmp_path/'run')}))
    assert f'{nulls}: no usable rows left after filtering (missing_field: 3); first: {nulls} line 1' in str(e.value)

def test_one_text_file_pretrains_on_a_model_without_chat_template(tmp_path):
    "training.mode=pretrain, format text, one .txt, validation_split 0.1, a tokenizer with no chat template: `ft-pipeline prepare` exits 0."
    from ft_pipeline.bundled import general_text
    from ft_pipeline.testing import tiny_model
    from transformers import AutoTokenizer
    base = tiny_model(tmp_path/'base')
    (base/'chat_template.jinja').unlink(missing_ok=True)
    tok = AutoTokenizer.from_pretrained(base); tok.chat_template = None; tok.save_pretrained(base)
    assert AutoTokenizer.from_pretrained(base).chat_template is None
    (tmp_path/'book.txt').write_text('\n\n'.join(general_text()))
    cfg = write_cfg(tmp_path, format='text', train_file=str(tmp_path/'book.txt'), max_samples=None, validation_split=0.1)
    r = prepare_cli(cfg, f'model.name_or_path={tmp_path/"base"}', 'training.mode=pretrain')
    assert r.returncode == 0, r.stderr[-3000:]
    stats = json.loads((tmp_path/'run'/'reports'/'data_stats.json').read_text())
    n = stats['sizes']['train'] + stats['sizes']['validation']
    assert stats['read'] == {'train': 1} and stats['sizes']['validation'] == round(0.1*n) > 0, stats

# ---- the CLI ----

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
