"""The GGUF architecture matrix: one tiny random model per architecture and tokenizer the export supports, written as F16 and Q8_0
and checked against the merged model in transformers and in llama.cpp.

`tests/test_export.py` runs every row as a test; run this file to write the table that nbs/07_export shows (under the shared lock):
    flock /work/heavy.lock .venv/bin/python tests/gguf_matrix.py          # -> bench/results/gguf_architectures.json
Tokenizers are built here, offline, in milliseconds: SentencePiece models trained with `sentencepiece` and byte-level BPEs trained
with `tokenizers` on the bundled general text, loaded through the transformers class each model family uses.
"""
import datetime, io, json, os, platform, sys, time
from pathlib import Path

import torch
import ft_pipeline

TEXT = json.loads((Path(ft_pipeline.__file__).parent/'assets'/'general_text.json').read_text())['paragraphs']
NUMBERS = [' '.join(str(i * 37 % 2048) for i in range(400))] * 3     # so a GPT-2 BPE learns multi-digit tokens, as GPT-2's did
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
GEMMA = ("{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n"
         "{{ m['content'] }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")
PHI3 = ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>\n{% else %}{{ eos_token }}{% endif %}")
MISTRAL = ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
           "{% else %}{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}")
LLAMA3_RE = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2_RE = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

def spm_tokenizer(d: Path, style: str):
    "A 1,000-piece SentencePiece BPE with byte fallback, saved in `d` the way transformers 5 saves it; style: llama | gemma | phi3."
    import sentencepiece as spm
    from transformers import GemmaTokenizer, LlamaTokenizer
    ids = dict(pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece='<pad>', eos_piece='<eos>', bos_piece='<bos>') if style == 'gemma' else \
          dict(unk_id=0, bos_id=1, eos_id=2, pad_id=-1)
    extra = ['<start_of_turn>', '<end_of_turn>'] if style == 'gemma' else []
    m = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(TEXT), model_writer=m, model_type='bpe', vocab_size=1000, byte_fallback=True,
                                   add_dummy_prefix=style != 'gemma', user_defined_symbols=extra, minloglevel=2, **ids)
    d.mkdir(parents=True, exist_ok=True); (d/'tokenizer.model').write_bytes(m.getvalue())
    tok = (GemmaTokenizer if style == 'gemma' else LlamaTokenizer).from_pretrained(d)
    if style == 'phi3':
        tok.add_special_tokens({'additional_special_tokens': ['<|endoftext|>', '<|assistant|>', '<|end|>', '<|user|>', '<|system|>']})
        tok.eos_token = '<|endoftext|>'
    (d/'tokenizer.model').unlink()
    return tok

def bpe_tokenizer(d: Path, regex: str | None, cls: str, specials: list[str]):
    "A byte-level BPE trained on the bundled text: GPT-2's regex (None), SmolLM's digits then GPT-2's ('digits'), or `regex`; loaded as `cls`."
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = (pre_tokenizers.ByteLevel(add_prefix_space=False) if regex is None else
                       pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
                       if regex == 'digits' else pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(regex), behavior='isolated'), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]))
    t.decoder = decoders.ByteLevel()
    t.train_from_iterator(TEXT + NUMBERS, trainers.BpeTrainer(vocab_size=1000, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                    show_progress=False))
    PreTrainedTokenizerFast(tokenizer_object=t, eos_token=specials[0], bos_token=specials[0]).save_pretrained(d)
    cfg = json.loads((d/'tokenizer_config.json').read_text()); cfg['tokenizer_class'] = cls
    (d/'tokenizer_config.json').write_text(json.dumps(cfg))
    return AutoTokenizer.from_pretrained(d)

def tokenizer_for(kind: str, d: Path):
    "The tokenizer of one matrix row, saved in `d` with its chat template (none for the base-model rows)."
    from transformers import AutoTokenizer
    if kind == 'smollm': tok = bpe_tokenizer(d, 'digits', 'PreTrainedTokenizerFast', ['<|endoftext|>', '<|im_start|>', '<|im_end|>'])
    elif kind == 'llama-bpe': tok = bpe_tokenizer(d, LLAMA3_RE, 'PreTrainedTokenizerFast', ['<|end_of_text|>', '<|im_start|>', '<|im_end|>'])
    elif kind == 'qwen2': tok = bpe_tokenizer(d, QWEN2_RE, 'Qwen2Tokenizer', ['<|endoftext|>', '<|im_start|>', '<|im_end|>'])
    elif kind == 'gpt-2': tok = bpe_tokenizer(d, None, 'GPT2Tokenizer', ['<|endoftext|>'])
    else: tok = spm_tokenizer(d, kind.split('-')[1])     # spm-llama | spm-mistral | spm-gemma | spm-phi3
    tok.chat_template = {'smollm': CHATML, 'llama-bpe': CHATML, 'qwen2': CHATML, 'spm-gemma': GEMMA, 'spm-phi3': PHI3, 'spm-mistral': MISTRAL}.get(kind, tok.chat_template)
    tok.save_pretrained(d)
    return AutoTokenizer.from_pretrained(d)

SMALL = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             max_position_embeddings=512, initializer_range=0.2)
# row: (transformers config class, tokenizer kind, extra config, the tokenizer the GGUF must say: `tokenizer.ggml.model (pre)`)
ROWS = {
    'llama / SmolLM BPE':      ('LlamaConfig', 'smollm', dict(tie_word_embeddings=True), 'gpt2 (smollm)'),   # the bundled model's own: test_llama_cpp_bundled_model
    'llama / Llama 3 BPE':     ('LlamaConfig', 'llama-bpe', dict(rope_parameters={'rope_type': 'llama3', 'rope_theta': 500000.0, 'factor': 8.0,
                                 'low_freq_factor': 1.0, 'high_freq_factor': 4.0, 'original_max_position_embeddings': 64}), 'gpt2 (llama-bpe)'),
    'llama / SentencePiece':   ('LlamaConfig', 'spm-llama', dict(attention_bias=True), 'llama (default)'),
    'mistral / SentencePiece': ('MistralConfig', 'spm-mistral', dict(sliding_window=None), 'llama (default)'),
    'qwen2 / Qwen2 BPE':       ('Qwen2Config', 'qwen2', dict(tie_word_embeddings=True), 'gpt2 (qwen2)'),
    'qwen3 / Qwen2 BPE':       ('Qwen3Config', 'qwen2', dict(head_dim=32), 'gpt2 (qwen2)'),
    'gemma / SentencePiece':   ('GemmaConfig', 'spm-gemma', dict(head_dim=16), 'llama (default)'),
    'gemma2 / SentencePiece':  ('Gemma2Config', 'spm-gemma', dict(head_dim=16, query_pre_attn_scalar=16, sliding_window=16), 'llama (default)'),
    'gemma3 / SentencePiece':  ('Gemma3TextConfig', 'spm-gemma', dict(head_dim=16, query_pre_attn_scalar=16, sliding_window=16,
                                 layer_types=['sliding_attention', 'full_attention']), 'llama (default)'),
    'phi3 / SentencePiece':    ('Phi3Config', 'spm-phi3', dict(num_key_value_heads=4, original_max_position_embeddings=512), 'llama (default)'),
    'gpt2 / GPT-2 BPE':        ('GPT2Config', 'gpt-2', dict(n_embd=64, n_layer=2, n_head=4, n_positions=512), 'gpt2 (gpt-2)'),
}
EXPECTED_TOKENIZER = {k: v[3] for k, v in ROWS.items()}

TRAIN_STEPS = 80  # at 40, one row's Q8_0 top-1 agreement (Phi-3) fell below 0.95 on some CPUs; at 80 every row is >= 0.96

def _train(m, tok, steps: int, seq: int = 64, bs: int = 8):
    """A few AdamW steps of next-token prediction on the bundled text: random weights predict nearly uniformly, so quantization flips
    their near-tied top-1 tokens; a model that has learned a little is as decisive as the models people export."""
    ids = torch.tensor([i for p in TEXT for i in tok(p + '\n', add_special_tokens=False).input_ids])
    opt, g = torch.optim.AdamW(m.parameters(), lr=3e-3), torch.Generator().manual_seed(0)
    m.train()
    for _ in range(steps):
        x = torch.stack([ids[i:i + seq] for i in torch.randint(0, len(ids) - seq, (bs,), generator=g).tolist()])
        m(input_ids=x, labels=x).loss.backward(); opt.step(); opt.zero_grad()
    return m.eval()

def tiny_model(row: str, d: Path, steps: int = TRAIN_STEPS) -> Path:
    "Build the tiny model of matrix `row` in `d` (random, then `steps` training steps), saved as the merge stage saves `merged/`."
    import transformers
    from transformers import AutoModelForCausalLM
    cls, kind, extra, _ = ROWS[row]
    tok = tokenizer_for(kind, d)
    kw = dict(SMALL, vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id)
    if cls == 'GPT2Config': kw = {k: v for k, v in kw.items() if k not in SMALL or k == 'initializer_range'}
    kw.update(extra)
    torch.manual_seed(0)
    m = AutoModelForCausalLM.from_config(getattr(transformers, cls)(**kw), dtype=torch.float32)
    _train(m, tok, steps).save_pretrained(d)
    return d

def run_row(row: str, tmp: Path, min_top1: dict, llama_cpp: bool = True, steps: int = TRAIN_STEPS) -> dict:
    "Write matrix `row` as F16 and Q8_0 and verify each against the merged model; the table row with timings."
    from ft_pipeline import gguf_verify as gv, gguf_writer as gw
    t0 = time.perf_counter()
    d = tiny_model(row, tmp/'merged', steps)
    files = [gw.write_gguf(d, tmp/f'tiny-{t.upper()}.gguf', t) for t in ('f16', 'q8_0')]
    prompts = gv.verify_prompts(gw.load_tokenizer_dir(d), None, 4, 64)
    ref = gv.reference(d, prompts, new_tokens=8, greedy=llama_cpp)   # both runtimes on both files (the export stage reads one back in transformers)
    res = [gv.verify_gguf(f.path, ref, f.ftype, min_top1, llama_cpp=llama_cpp) for f in files]
    meta = gw.read_gguf(files[0].path)['meta']
    return {'row': row, 'architecture': meta['general.architecture'], 'tokenizer': f"{meta['tokenizer.ggml.model']} ({meta['tokenizer.ggml.pre']})",
            'verification': res, 'seconds': round(time.perf_counter() - t0, 1)}

def main(out: Path = Path(__file__).parent.parent/'bench'/'results'/'gguf_architectures.json'):
    "Run every row and write the table nbs/07_export shows, with the machine and date."
    import tempfile
    from ft_pipeline import gguf_writer as gw
    res = {'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'), 'machine': platform.machine(), 'cpus': os.cpu_count(),
           'llama_cpp': gw.has_llama_cpp(), 'thresholds': {'f16': 0.99, 'q8_0': 0.95}, 'rows': []}
    for row in ROWS:
        with tempfile.TemporaryDirectory() as tmp: r = run_row(row, Path(tmp), res['thresholds'], llama_cpp=gw.has_llama_cpp())
        res['rows'].append(r)
        print(row, r['seconds'], 's', [v['status'] for v in r['verification']], flush=True)
    out.parent.mkdir(parents=True, exist_ok=True); out.write_text(json.dumps(res, indent=1, default=str))
    print('wrote', out)

if __name__ == '__main__': main()
