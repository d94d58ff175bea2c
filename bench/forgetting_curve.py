"""The quickstart's trade-off between learning the task and forgetting general English (issue 16, item 4): exact match on the held-out
test prompts against the forgetting check's perplexity rise, one point per training configuration.

    python bench/forgetting_curve.py              # every point, ~20 min each on a 2-core CPU
    python bench/forgetting_curve.py --only d0_lr3e-4 d0_lr1e-3

Each point is configs/quickstart.yaml with the overrides below, run as a user would (`ft-pipeline prepare`, `train`, `evaluate`, each its
own process) in its own output directory. Results are merged into bench/results/forgetting_curve.json point by point (each with its
date, commit and machine), so points measured in separate runs sit side by side; nbs/05_evaluate.ipynb plots them."""
import argparse, json, subprocess, sys, time
from datetime import datetime, timezone
from pathlib import Path
from machine import describe

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT/'bench'/'results'/'forgetting_work'
OUT = ROOT/'bench'/'results'/'forgetting_curve.json'
POINTS = {  # name: overrides of configs/quickstart.yaml (dropout 0: the 1.23x faster step of nbs/04_train)
    'd0_lr1e-3':   {'lora.dropout': 0.0},
    'd0_lr5e-4':   {'lora.dropout': 0.0, 'training.learning_rate': 5e-4},
    'd0_lr3e-4':   {'lora.dropout': 0.0, 'training.learning_rate': 3e-4},
    'd0_attn_lr1e-3': {'lora.dropout': 0.0, 'lora.target_modules': '[q_proj,k_proj,v_proj,o_proj]'},  # no MLP adapters
    'd0_attn_lr5e-4': {'lora.dropout': 0.0, 'lora.target_modules': '[q_proj,k_proj,v_proj,o_proj]', 'training.learning_rate': 5e-4},
}

def run_point(name: str, over: dict) -> dict:
    "prepare, train and evaluate one point in its own directory; the stages' own reports give the numbers."
    out = WORK/name
    sets = [a for k, v in {**over, 'output_dir': str(out)}.items() for a in ('--set', f'{k}={v}')]
    secs = {}
    for stage in ('prepare', 'train', 'evaluate'):
        t = time.perf_counter()
        extra = ['--restart'] if stage == 'train' else []
        subprocess.run([str(Path(sys.executable).parent/'ft-pipeline'), stage, str(ROOT/'configs'/'quickstart.yaml'), *sets, *extra], check=True)
        secs[stage] = round(time.perf_counter() - t, 1)
    ev, tr = (json.loads((out/'reports'/f).read_text()) for f in ('eval.json', 'train.json'))
    commit = subprocess.run(['git', '-C', str(ROOT), 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
    return {'overrides': over, 'date': datetime.now(timezone.utc).isoformat(timespec='minutes'), 'commit': commit, 'machine': describe(),
            'exact_match': ev['task_metrics']['tuned']['exact_match'], 'base_exact_match': ev['task_metrics']['base']['exact_match'],
            'json_field_acc': ev['task_metrics']['tuned']['json_field_acc'], 'forgetting_rise': ev['forgetting']['rise'],
            'general_ppl': ev['general_text_ppl'], 'best_eval_loss': tr['best_eval_loss'], 'train_steps': tr['steps'],
            'train_tokens_per_s': tr['tokens_per_s'], 'stage_seconds': secs}

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--only', nargs='+', choices=list(POINTS), help='run these points (default: all)')
    a = ap.parse_args()
    res = json.loads(OUT.read_text()) if OUT.exists() else {'command': 'python bench/forgetting_curve.py', 'points': {}}
    for name in a.only or POINTS:
        res['points'][name] = run_point(name, POINTS[name])
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(res, indent=1))
        p = res['points'][name]
        print(f"{name}: exact match {p['exact_match']:.2f}, forgetting rise {p['forgetting_rise']:+.1%}, eval loss {p['best_eval_loss']:.4f}, "
              f"train {p['stage_seconds']['train']:.0f} s", flush=True)

if __name__ == '__main__':
    main()
