"GGUF export on tiny random Qwen2/Llama models and the bundled model; the llama.cpp comparison runs when llama-cpp-python is installed."
import json, shutil
from pathlib import Path

import pytest, torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, Qwen2Config

from ft_pipeline import export as ex, gguf_verify as gv, gguf_writer as gw
from ft_pipeline.config import load_config
from ft_pipeline.model import bundled_model_dir

needs_llama_cpp = pytest.mark.skipif(not gw.has_llama_cpp(), reason=f"llama-cpp-python is not installed: {gw.LLAMA_CPP_INSTALL}")

def _tiny(tmp: Path, cls, **kw) -> Path:
    "A small random model with the bundled tokenizer (vocab 49152), saved like the merge stage saves `merged/`."
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(bundled_model_dir())
    cfg = cls(vocab_size=49152, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
              max_position_embeddings=512, bos_token_id=1, eos_token_id=2, pad_token_id=2, initializer_range=0.2, **kw)
    m = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    d = tmp/cls.model_type
    m.save_pretrained(d); tok.save_pretrained(d)
    return d

@pytest.fixture(scope='module')
def qwen2(tmp_path_factory): return _tiny(tmp_path_factory.mktemp('m'), Qwen2Config, tie_word_embeddings=False)

@pytest.fixture(scope='module')
def llama(tmp_path_factory): return _tiny(tmp_path_factory.mktemp('m'), LlamaConfig, tie_word_embeddings=True)

@pytest.fixture(scope='module')
def ctx(qwen2):
    tok = AutoTokenizer.from_pretrained(qwen2)
    return tok, gv.verify_prompts(tok, None, 3, 48)

@pytest.mark.parametrize('ftype', ['f16', 'q8_0'])
def test_qwen2_writer_readback_and_transformers(qwen2, ctx, tmp_path, ftype):
    tok, prompts = ctx
    f = gw.write_gguf(qwen2, tmp_path/f'q-{ftype}.gguf', ftype)
    rb = gw.read_gguf(f.path)
    assert rb['meta']['general.architecture'] == 'qwen2' and rb['meta']['qwen2.attention.head_count_kv'] == 2
    assert rb['meta']['tokenizer.ggml.tokens'] == 49152 and rb['meta']['tokenizer.ggml.merges'] == 48900
    # every HF tensor is there once, biases included, untied output written; 1-D tensors stay F32
    assert len(rb['tensors']) == 2 + 1 + 2*12 and rb['tensors']['blk.1.attn_q.bias'] == ('F32', (64,))
    assert rb['tensors']['output.weight'] == (ftype.upper(), (49152, 64))
    v = gv.verify_gguf(f.path, qwen2, prompts, ftype, {'f16': 0.95, 'q8_0': 0.8}, {'f16': 1e-3, 'q8_0': 0.03}, llama_cpp=False)
    assert v['weights']['problems'] == [] and v['passed'], v
    assert v['weights']['max_rel_rms'][ftype.upper()]['error'] < (1e-3 if ftype == 'f16' else 1e-2)

def test_llama_gqa_permutation_roundtrip(llama, tmp_path):
    "q/k rows are permuted for llama (4 heads, 2 kv heads); transformers undoes it on load, so logits match only if both permutations are right."
    tok = AutoTokenizer.from_pretrained(llama)
    prompts = gv.verify_prompts(tok, None, 2, 48)
    f = gw.write_gguf(llama, tmp_path/'l-F32.gguf', 'f32')
    assert 'output.weight' not in gw.read_gguf(f.path)['tensors']     # tied: llama.cpp reuses token_embd
    v = gv.verify_gguf(f.path, llama, prompts, 'f32', llama_cpp=False)
    assert v['transformers']['top1'] == 1.0 and v['transformers']['max_abs'] < 1e-3, v['transformers']

def test_llama3_rope_freqs(tmp_path):
    rope = {'rope_type': 'llama3', 'rope_theta': 500000.0, 'factor': 8.0, 'low_freq_factor': 1.0, 'high_freq_factor': 4.0,
            'original_max_position_embeddings': 64}
    d = _tiny(tmp_path, LlamaConfig, tie_word_embeddings=True, rope_parameters=rope)
    f = gw.write_gguf(d, tmp_path/'r.gguf', 'f16')
    rb = gw.read_gguf(f.path)
    assert rb['tensors']['rope_freqs.weight'] == ('F32', (8,))        # head_dim 16 -> 8 frequencies
    import gguf
    t = next(t for t in gguf.GGUFReader(f.path).tensors if t.name == 'rope_freqs.weight')
    # high frequencies untouched (1), the lowest ones divided by the full factor (8)
    assert t.data[0] == 1.0 and t.data[-1] == pytest.approx(8.0)

def test_refusals(tmp_path, qwen2, llama, monkeypatch):
    d = tmp_path/'gpt2'; d.mkdir()
    (d/'config.json').write_text(json.dumps({'architectures': ['GPT2LMHeadModel']}))
    with pytest.raises(gw.ExportError, match='GPT2LMHeadModel is not supported by the GGUF export; supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM'):
        gw.write_gguf(d, tmp_path/'x.gguf')
    with pytest.raises(gw.ExportError, match="export type 'q4_k_s' is not written in Python"):
        gw.write_gguf(qwen2, tmp_path/'x.gguf', 'q4_k_s')
    # a SentencePiece-style tokenizer is refused by name, not written wrong
    sp = tmp_path/'sp'; shutil.copytree(llama, sp)      # (llama: its tokenizer is read from tokenizer.json as is)
    tj = json.loads((sp/'tokenizer.json').read_text()); tj['model']['byte_fallback'] = True
    (sp/'tokenizer.json').write_text(json.dumps(tj))
    with pytest.raises(gw.ExportError, match='with byte fallback'):
        gw.write_gguf(sp, tmp_path/'x.gguf')
    assert not list(tmp_path.glob('x.gguf*'))     # nothing half-written
    monkeypatch.setattr(ex, 'has_llama_cpp', lambda: False)
    run = tmp_path/'run'; shutil.copytree(qwen2, run/'merged')
    with pytest.raises(gw.ExportError, match=r'K-quants need llama.cpp.*CMAKE_ARGS="-DGGML_NATIVE=OFF'):
        ex.export(load_config(None, {'output_dir': str(run), 'export.types': ['f16', 'q4_k_m']}))

def test_export_stage_qwen2(qwen2, tmp_path):
    "The stage on a run dir holding only merged/: files, Modelfile, report, card stating what was not run."
    run = tmp_path/'run'; shutil.copytree(qwen2, run/'merged')
    (run/'reports').mkdir(parents=True); (run/'reports'/'merge.json').write_text(json.dumps({'max_abs_logit_diff': 1.5e-5, 'passed': True}))
    # random weights give near-tied logits, so top-1 is looser here; precision is tested on the bundled (real) model
    over = {'output_dir': str(run), 'export.verify_samples': 2, 'export.name': 'tiny', 'model.name_or_path': 'qwen2-tiny',
            'export.min_top1': {'f16': 0.95, 'q8_0': 0.8}}
    r = ex.export(load_config(None, over))
    assert sorted(p.name for p in (run/'gguf').iterdir()) == ['Modelfile', 'tiny-F16.gguf', 'tiny-Q8_0.gguf']
    rep = json.loads((run/'reports'/'export.json').read_text())
    assert rep['passed'] and [v['thresholds'] for v in rep['verification']] == [{'min_top1': 0.95, 'max_kl': 1e-3}, {'min_top1': 0.8, 'max_kl': 0.03}]
    if gw.has_llama_cpp(): assert all(v['llama_cpp']['tokenizer_mismatches'] == [] for v in rep['verification']), rep['verification']
    card = (run/'model_card.md').read_text()
    assert 'Not run (`reports/eval.json` missing)' in card and 'Not run (`reports/data_stats.json` missing)' in card
    assert '| max_abs_logit_diff | 1.5e-05 |' in card and rep['files'][1]['sha256'] in card
    mf = (run/'gguf'/'Modelfile').read_text()
    assert 'FROM ./tiny-Q8_0.gguf' in mf and 'PARAMETER stop "<|im_end|>"' in mf

def test_failed_threshold_fails_export(qwen2, tmp_path):
    run = tmp_path/'run'; shutil.copytree(qwen2, run/'merged')
    with pytest.raises(gw.ExportError, match=r'GGUF verification failed .*tiny-Q8_0.gguf: transformers top1'):
        ex.export(load_config(None, {'output_dir': str(run), 'export.verify_samples': 1, 'export.name': 'tiny', 'export.min_top1': {'q8_0': 1.01}}))
    assert json.loads((run/'reports'/'export.json').read_text())['passed'] is False    # the numbers are kept for reading

@needs_llama_cpp
def test_llama_cpp_bundled_model(tmp_path):
    "llama.cpp runs our F16/Q8_0 of the bundled model like the HF model does, and its tokenizer (rebuilt from the GGUF) gives HF's ids."
    src = bundled_model_dir()
    tok = AutoTokenizer.from_pretrained(src)
    merged = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32).eval()
    prompts = gv.verify_prompts(tok, None, 4, 64)
    ref, gen = gv._hf_logits(merged, prompts), gv.hf_greedy(merged, tok, prompts, 12)
    for ftype, top1, kl in (('f16', 0.99, 1e-3), ('q8_0', 0.9, 0.03)):
        f = gw.write_gguf(src, tmp_path/f'b-{ftype}.gguf', ftype)
        r = gv.compare_llama_cpp(Path(f.path), tok, ref, prompts, gen)
        assert r['tokenizer_mismatches'] == [], r
        assert r['top1'] >= top1 and r['kl'] <= kl, (ftype, r)
        if ftype == 'f16': assert r['greedy_identical'] == '4/4', r

@needs_llama_cpp
def test_llama_cpp_qwen2_and_kquant(qwen2, ctx, tmp_path):
    tok, prompts = ctx
    merged = AutoModelForCausalLM.from_pretrained(qwen2, dtype=torch.float32).eval()
    ref, gen = gv._hf_logits(merged, prompts), gv.hf_greedy(merged, tok, prompts, 8)
    f = gw.write_gguf(qwen2, tmp_path/'q-F16.gguf', 'f16')
    r = gv.compare_llama_cpp(Path(f.path), tok, ref, prompts, gen)
    assert r['top1'] >= 0.95 and r['kl'] <= 1e-3 and r['tokenizer_mismatches'] == [], r   # random weights: near-tied logits
    k = gw.quantize_gguf(f.path, tmp_path/'q-Q4_K_M.gguf', 'q4_k_m')
    assert gw.read_gguf(k.path)['meta']['general.file_type'] == 15 and sum(k.tensor_types.values()) == 3 + 2*12
