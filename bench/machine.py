"""The machine line every benchmark result carries: CPU model, cores, memory (imported by the scripts beside it)."""
import os, platform

def describe() -> str:
    "'<CPU model>, <n> cores, <m> GiB' of this machine."
    import psutil
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.machine())
    return f'{cpu}, {os.cpu_count()} cores, {psutil.virtual_memory().total/2**30:.0f} GiB'
