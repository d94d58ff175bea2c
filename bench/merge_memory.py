"""Peak resident memory of merging a LoRA adapter into the bundled SmolLM2-135M (float32, 538 MB of weights):
ft_pipeline.merge.merge_to_dir (streaming) vs PEFT's merge_and_unload + save_pretrained. Each runs in a fresh process; ru_maxrss is
its whole-life peak. Run: flock /tmp/ft_cpu.lock python bench/merge_memory.py  -> bench/results/merge_memory.json"""
import json, os, platform, resource, subprocess, sys, tempfile, time
from pathlib import Path

CHILD = {
 'baseline (imports only)': "import torch, transformers, peft, ft_pipeline.merge",
 'ft_pipeline merge_to_dir': "from ft_pipeline.merge import merge_to_dir; merge_to_dir(BASE, AD, OUT)",
 'peft merge_and_unload': ("import torch; from transformers import AutoModelForCausalLM; from peft import PeftModel\n"
                           "m = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(BASE, dtype=torch.float32), AD)\n"
                           "m.merge_and_unload().save_pretrained(OUT)"),
}

def make_adapter(base, ad):
    import torch
    from transformers import AutoModelForCausalLM
    from peft import LoraConfig, get_peft_model
    torch.manual_seed(0)
    m = get_peft_model(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32),
                       LoraConfig(r=16, lora_alpha=32, target_modules='all-linear', init_lora_weights=False))
    m.save_pretrained(ad)

if __name__ == '__main__':
    from ft_pipeline.model import bundled_model_dir
    base = str(bundled_model_dir()); tmp = Path(tempfile.mkdtemp()); ad = str(tmp/'adapter')
    make_adapter(base, ad)
    res = {}
    for name, code in CHILD.items():
        out = str(tmp/name.split()[0])
        src = f"BASE, AD, OUT = {base!r}, {ad!r}, {out!r}\n{code}\nimport resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        t0 = time.perf_counter(); p = subprocess.run([sys.executable, '-c', src], capture_output=True, text=True, check=True)
        res[name] = {'peak_rss_mb': round(int(p.stdout.split()[-1]) / 1024), 'seconds': round(time.perf_counter() - t0, 1)}
    size = sum(f.stat().st_size for f in Path(base).glob('*.safetensors')) / 2**20
    out = {'date': time.strftime('%Y-%m-%d'), 'machine': f'{platform.machine()} {os.cpu_count()} cpu', 'model': 'SmolLM2-135M-Instruct fp32',
           'weights_mb': round(size), 'adapter': 'r=16 all-linear', 'results': res}
    Path(__file__).parent.joinpath('results', 'merge_memory.json').write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
