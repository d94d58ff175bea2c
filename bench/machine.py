"""What every benchmark result says about its machine: CPU model, cores, memory, and the measured matmul peak (imported by the scripts beside it)."""
import os, platform

def describe() -> str:
    "'<CPU model>, <n> cores, <m> GiB' of this machine."
    import psutil
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.machine())
    return f'{cpu}, {os.cpu_count()} cores, {psutil.virtual_memory().total/2**30:.0f} GiB'

def matmul_peak(precisions=('fp32', 'bf16')) -> dict:
    "Measured GFLOP/s of a 2048x2048 matmul on this CPU in each of `precisions` (bf16 takes minutes on a CPU without native bf16 matmuls)."
    import time, torch
    res = {}
    for name in precisions:
        dt = {'fp32': torch.float32, 'bf16': torch.bfloat16}[name]
        a, b = torch.randn(2048, 2048, dtype=dt), torch.randn(2048, 2048, dtype=dt)
        for _ in range(3): a @ b
        t0 = time.perf_counter(); n = 20
        for _ in range(n): a @ b
        res[name] = 2 * 2048**3 * n / (time.perf_counter() - t0) / 1e9
    return res
