"""GGUF export: the architecture matrix (tests/gguf_matrix.py) in transformers and llama.cpp, refusals before any work, the stage on a
run directory, K-quants. The llama.cpp comparisons run when llama-cpp-python is installed; the bundled model itself is checked in
llama.cpp by nbs/07b_verify."""
import json, shutil
from pathlib import Path

import pytest, torch

import gguf_matrix as gm
from ft_pipeline import export as ex, gguf_verify as gv, gguf_writer as gw
from ft_pipeline.config import load_config

needs_llama_cpp = pytest.mark.skipif(not gw.has_llama_cpp(), reason=f"llama-cpp-python is not installed: {gw.LLAMA_CPP_INSTALL}")
THRESHOLDS = {'f16': 0.99, 'q8_0': 0.95}      # issue 12: the matrix's bar in both runtimes

@pytest.mark.parametrize('row', list(gm.ROWS))
def test_matrix_row(row, tmp_path):
    "F16 and Q8_0 of each architecture agree with the merged model in transformers and llama.cpp; llama.cpp reads the tokenizer alike."
    r = gm.run_row(row, tmp_path, THRESHOLDS, llama_cpp=gw.has_llama_cpp())
    for v in r['verification']:
        assert v['status'] == 'passed' and v['weights']['problems'] == [], (row, v['ftype'], v['failures'])
        runtimes = [v[k] for k in ('transformers', 'llama_cpp') if isinstance(v[k], dict)]
        assert len(runtimes) == 1 + gw.has_llama_cpp() - (r['architecture'] == 'gemma'), (row, v)   # transformers has no gemma GGUF loader
        assert all(x['top1_agreement'] >= THRESHOLDS[v['ftype']] for x in runtimes), (row, v)
        if isinstance(v['llama_cpp'], dict): assert v['llama_cpp']['greedy_identical'] != '0/4', (row, v['llama_cpp'])
    assert r['tokenizer'] == gm.EXPECTED_TOKENIZER[row], r['tokenizer']

def test_architecture_details(tmp_path):
    "What the matrix cannot see from agreement alone: the per-architecture keys and tensors llama.cpp reads."
    g3 = gw.read_gguf(gw.write_gguf(gm.tiny_model('gemma3 / SentencePiece', tmp_path/'g3', steps=0), tmp_path/'g3.gguf', 'f32').path)
    assert g3['meta']['gemma3.attention.sliding_window_pattern'] == [True, False] and g3['meta']['gemma3.attention.sliding_window'] == 16
    assert g3['meta']['gemma3.rope.freq_base_swa'] == 10000.0 and 'blk.0.attn_q_norm.weight' in g3['tensors']
    assert g3['meta']['tokenizer.ggml.add_space_prefix'] is False and 'output.weight' not in g3['tensors']
    gpt2 = gw.read_gguf(gw.write_gguf(gm.tiny_model('gpt2 / GPT-2 BPE', tmp_path/'gpt2', steps=0), tmp_path/'gpt2.gguf', 'f32').path)
    assert gpt2['tensors']['blk.0.attn_qkv.weight'] == ('F32', (192, 64)) and gpt2['tensors']['position_embd.weight'] == ('F32', (512, 64))
    phi = gw.read_gguf(gw.write_gguf(gm.tiny_model('phi3 / SentencePiece', tmp_path/'phi', steps=0), tmp_path/'phi.gguf', 'f32').path)
    assert phi['tensors']['blk.0.ffn_up.weight'] == ('F32', (256, 64)) and phi['meta']['tokenizer.ggml.add_space_prefix'] is True

def test_llama3_rope_freqs(tmp_path):
    d = gm.tiny_model('llama / Llama 3 BPE', tmp_path/'m', steps=0)
    f = gw.write_gguf(d, tmp_path/'r.gguf', 'f16')
    assert gw.read_gguf(f.path)['tensors']['rope_freqs.weight'] == ('F32', (8,))        # head_dim 16 -> 8 frequencies
    import gguf
    t = next(t for t in gguf.GGUFReader(f.path).tensors if t.name == 'rope_freqs.weight')
    # high frequencies untouched (1), the lowest ones divided by the full factor (8)
    assert t.data[0] == 1.0 and t.data[-1] == pytest.approx(8.0)

def _config_only(src: Path, dst: Path, **changes) -> Path:
    "A model directory with `src`'s config (changed) and tokenizer, and no weights: what check_exportable sees before training."
    dst.mkdir(parents=True)
    for p in src.iterdir():
        if p.suffix != '.safetensors': shutil.copy(p, dst/p.name)
    cfg = json.loads((dst/'config.json').read_text()); cfg.update(changes); (dst/'config.json').write_text(json.dumps(cfg))
    return dst

def test_check_exportable_before_training(tmp_path):
    "Every matrix row passes without weights; what llama.cpp would compute differently is refused with the reason."
    g2 = gm.tiny_model('gemma2 / SentencePiece', tmp_path/'g2', steps=0)
    gw.check_exportable(_config_only(g2, tmp_path/'ok'))
    with pytest.raises(gw.ExportError, match=r"query_pre_attn_scalar 24: llama.cpp scales queries by 1/sqrt\(16\)"):
        gw.check_exportable(_config_only(g2, tmp_path/'qpas', query_pre_attn_scalar=24))
    with pytest.raises(gw.ExportError, match="BloomForCausalLM is not supported by the GGUF export"):
        gw.check_exportable(_config_only(g2, tmp_path/'bloom', architectures=['BloomForCausalLM'], model_type='bloom'))
    gpt2 = gm.tiny_model('gpt2 / GPT-2 BPE', tmp_path/'gpt2', steps=0)
    with pytest.raises(gw.ExportError, match="scale_attn_by_inverse_layer_idx=True"):
        gw.check_exportable(_config_only(gpt2, tmp_path/'inv', scale_attn_by_inverse_layer_idx=True))
    tj = json.loads((gpt2/'tokenizer.json').read_text()); tj['pre_tokenizer'] = {'type': 'Sequence', 'pretokenizers': [
        {'type': 'Split', 'pattern': {'Regex': r'\s+'}, 'behavior': 'Isolated', 'invert': False}, {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': False}]}
    odd = _config_only(gpt2, tmp_path/'odd'); (odd/'tokenizer.json').write_text(json.dumps(tj))
    cfg = json.loads((odd/'tokenizer_config.json').read_text()); cfg['tokenizer_class'] = 'PreTrainedTokenizerFast'
    (odd/'tokenizer_config.json').write_text(json.dumps(cfg))
    with pytest.raises(gw.ExportError, match="is not one the GGUF export knows"): gw.check_exportable(odd)

def test_refusals(tmp_path):
    d = gm.tiny_model('qwen2 / Qwen2 BPE', tmp_path/'m', steps=0)
    with pytest.raises(gw.ExportError, match="export type 'q4_k_s' is not written in Python"):
        gw.write_gguf(d, tmp_path/'x.gguf', 'q4_k_s')
    assert not list(tmp_path.glob('x.gguf*'))     # nothing half-written

def test_k_quants_need_llama_cpp(tmp_path, monkeypatch):
    monkeypatch.setattr(ex, 'has_llama_cpp', lambda: False)
    run = tmp_path/'run'; gm.tiny_model('qwen2 / Qwen2 BPE', run/'merged', steps=0)
    with pytest.raises(gw.ExportError, match=r'K-quants need llama.cpp.*CMAKE_ARGS="-DGGML_NATIVE=OFF'):
        ex.export(load_config(None, {'output_dir': str(run), 'export.types': ['f16', 'q4_k_m']}))

def test_export_stage_base_model(tmp_path):
    "The stage on a run dir holding only merged/, for a base model without a chat template (pretrain mode): files, report, card, Modelfile."
    run = tmp_path/'run'; gm.tiny_model('llama / SentencePiece', run/'merged')
    (run/'reports').mkdir(parents=True); (run/'reports'/'merge.json').write_text(json.dumps({'max_abs_logit_diff': 1.5e-5, 'passed': True}))
    over = {'output_dir': str(run), 'export.verify_samples': 2, 'export.name': 'tiny', 'model.name_or_path': 'llama-tiny'}
    ex.export(load_config(None, over))
    assert sorted(p.name for p in (run/'gguf').iterdir()) == ['Modelfile', 'tiny-F16.gguf', 'tiny-Q8_0.gguf']
    rep = json.loads((run/'reports'/'export.json').read_text())
    assert rep['passed'] and [f['verified'] for f in rep['files']] == ['passed', 'passed']
    assert [v['thresholds'] for v in rep['verification']] == [{'min_top1': 0.99, 'max_kl': 1e-3}, {'min_top1': 0.9, 'max_kl': 0.03}]
    card = (run/'model_card.md').read_text()
    assert 'Not run (`reports/eval.json` missing)' in card and '| max_abs_logit_diff | 1.5e-05 |' in card and rep['files'][1]['sha256'] in card
    mf = (run/'gguf'/'Modelfile').read_text()
    assert 'FROM ./tiny-Q8_0.gguf' in mf and '# No TEMPLATE: the model has no chat template' in mf and 'PARAMETER stop "</s>"' in mf

def test_thresholds_decide(tmp_path):
    "A listed threshold that is missed fails the export (report kept); an unlisted type is reported, not passed."
    run = tmp_path/'run'; gm.tiny_model('qwen2 / Qwen2 BPE', run/'merged')
    rt = 'llama_cpp' if gw.has_llama_cpp() else 'transformers'   # files are read back in transformers only without llama.cpp
    with pytest.raises(gw.ExportError, match=rf'GGUF verification failed .*tiny-Q8_0.gguf: {rt} top-1 agreement'):
        ex.export(load_config(None, {'output_dir': str(run), 'export.verify_samples': 1, 'export.name': 'tiny', 'export.min_top1': {'q8_0': 1.01}}))
    assert json.loads((run/'reports'/'export.json').read_text())['passed'] is False    # the numbers are kept for reading
    ex.export(load_config(None, {'output_dir': str(run), 'export.verify_samples': 1, 'export.name': 'tiny', 'export.types': ['q8_0'],
                                 'export.min_top1': {}, 'export.max_kl': {}}))
    rep = json.loads((run/'reports'/'export.json').read_text())
    assert rep['passed'] and rep['files'][0]['verified'] == 'reported' and rep['verification'][0]['thresholds'] == {'min_top1': None, 'max_kl': None}

@needs_llama_cpp
def test_k_quant_is_reported(tmp_path):
    "A K-quant made by llama.cpp's quantizer is verified like any file, and with no threshold for its type it is reported, not passed."
    d = gm.tiny_model('qwen2 / Qwen2 BPE', tmp_path/'m')
    f16 = gw.write_gguf(d, tmp_path/'q-F16.gguf', 'f16')
    k = gw.quantize_gguf(f16.path, tmp_path/'q-Q4_K_M.gguf', 'q4_k_m')
    assert gw.read_gguf(k.path)['meta']['general.file_type'] == 15 and sum(k.tensor_types.values()) == len(gw.read_gguf(f16.path)['tensors'])
    ref = gv.reference(d, gv.verify_prompts(gw.load_tokenizer_dir(d), None, 2, 48), new_tokens=4)
    v = gv.verify_gguf(k.path, ref, 'q4_k_m', THRESHOLDS, {'f16': 1e-3, 'q8_0': 0.03})
    assert v['status'] == 'reported' and v['failures'] == [] and isinstance(v['llama_cpp'], dict), v

def test_gpt2_conv1d_adapter_merges_and_exports(tmp_path):
    "GPT-2's Conv1D adapters (fan_in_fan_out) merge to the PEFT model's logits, and the merged model's GGUF holds the merged weights."
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    from ft_pipeline.merge import merge_to_dir
    base = gm.tiny_model('gpt2 / GPT-2 BPE', tmp_path/'base', steps=0)
    torch.manual_seed(1)
    pm = get_peft_model(AutoModelForCausalLM.from_pretrained(base), LoraConfig(r=4, lora_alpha=8, target_modules=['c_attn', 'c_proj', 'c_fc'],
                                                                               fan_in_fan_out=True, init_lora_weights=False)).eval()
    pm.save_pretrained(tmp_path/'adapter')
    info = merge_to_dir(base, tmp_path/'adapter', tmp_path/'merged')
    for f in base.iterdir():
        if not (tmp_path/'merged'/f.name).exists(): shutil.copy(f, tmp_path/'merged'/f.name)     # the tokenizer files
    x = torch.tensor([[5, 17, 42, 99, 7]])
    with torch.no_grad():
        want, got = pm(x).logits, AutoModelForCausalLM.from_pretrained(tmp_path/'merged').eval()(x).logits
        assert (want - AutoModelForCausalLM.from_pretrained(base).eval()(x).logits).abs().max() > 1e-2   # the adapter changes the output
    assert info['merged_modules'] == 8 and torch.allclose(got, want, atol=1e-4), (got - want).abs().max()
    w = gv.weight_errors(gw.write_gguf(tmp_path/'merged', tmp_path/'m.gguf', 'f32').path, tmp_path/'merged')
    assert w['problems'] == [] and w['max_rel_rms']['F32']['error'] == 0, w
