"estimate_memory against measured peak RSS: each configuration trains in its own fresh process (a notebook's RSS carries everything before it)."
import subprocess, sys, json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1]/'bench'/'qlora_memory.py'


def measure(**kw):
    p = subprocess.run([sys.executable, str(BENCH), 'point'] + [f'--{k}={v}' for k, v in kw.items()], capture_output=True, text=True)
    line = [s for s in p.stdout.splitlines() if s.startswith('RESULT ')]
    assert p.returncode == 0 and line, p.stderr[-3000:]
    return json.loads(line[0][7:])


@pytest.mark.parametrize('kw', [dict(q4=0, bs=1, len=256, gc=0), dict(q4=1, bs=2, len=256, gc=1)], ids=['lora-fp32', 'qlora-nf4-checkpointed'])
def test_estimate_within_25pct_of_measured_peak(kw):
    r = measure(steps=2, **kw)
    err = r['estimate_bytes'] / r['peak_rss'] - 1
    assert abs(err) < 0.25, f"estimate {r['estimate_bytes']/1e9:.3f} GB vs measured peak RSS {r['peak_rss']/1e9:.3f} GB ({err:+.1%}): {r['estimate_parts']}"
