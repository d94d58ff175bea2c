"""Real processes for the fault tests, without paying for their imports each time.

A fault test needs a process of its own: a real SIGKILL or SIGTERM, a real exit status, the files a dead process leaves. `python -c SCRIPT`
gives one, but spends about 8 s of CPU importing torch, transformers, peft, accelerate and datasets before SCRIPT's first line; moving
about 40 such processes here (and one duplicated training run out) took `pytest -n 2` from 877 s to 698 s. multiprocessing's forkserver
imports them once per pytest worker, in a server process that runs no model and no torch operation, and forks each child from it: a new
process with its own pid, signals and exit status, at its first line in a fraction of a second. Tests of the command line as a user types
it (`ft-pipeline ...`, through its entry point) still start a fresh interpreter with `subprocess`, and so do tests of what a command
imports, or of what it reads from the environment before its first line (a planted HF_TOKEN): the server imported its modules under the
environment it started with."""
import atexit, multiprocessing, os, shutil, signal, subprocess, sys, tempfile
from pathlib import Path

PRELOAD = ['torch', 'transformers', 'peft', 'accelerate', 'datasets', 'safetensors.torch']
_ctx = multiprocessing.get_context('forkserver')
_ctx.set_forkserver_preload(PRELOAD)
_logs = []   # the directory for the children's stdout and stderr, made on first use: each child imports this module too

def _log_dir() -> Path:
    if not _logs:
        _logs.append(Path(tempfile.mkdtemp(prefix='ft-procs-'))); atexit.register(shutil.rmtree, _logs[0], True)
    return _logs[0]

def _main(script: str, argv: list[str], cwd: str, env: dict, out: str, err: str):
    "In the child: what `python -c script *argv` does, run in `cwd` with environment `env`, stdout and stderr written to `out` and `err`."
    for fd, path in ((1, out), (2, err)): os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
    os.chdir(cwd)
    os.environ.clear(); os.environ.update(env)
    sys.argv = ['-c', *argv]
    exec(compile(script, '<string>', 'exec'), {'__name__': '__main__'})

class Script:
    "`python -c script *args` in a process forked from the preloaded server; `subprocess.Popen`'s pid, poll, wait, send_signal, kill, "
    "returncode and communicate (stdout and stderr as text)."
    def __init__(self, script: str, *args, cwd=None, env: dict | None = None):
        d = Path(tempfile.mkdtemp(dir=_log_dir()))
        self._out, self._err = d/'out', d/'err'
        self._p = _ctx.Process(target=_main, args=(script, [str(a) for a in args], str(cwd or os.getcwd()),
                                                   dict(os.environ if env is None else env), str(self._out), str(self._err)))
        self._p.start()
        self.pid = self._p.pid

    @property
    def returncode(self) -> int | None: return self._p.exitcode   # -N: killed by signal N, as in subprocess
    def poll(self) -> int | None: return self._p.exitcode
    def send_signal(self, sig: int): os.kill(self.pid, sig)
    def kill(self): self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        self._p.join(timeout)
        if self._p.exitcode is None: raise subprocess.TimeoutExpired(['python', '-c', '...'], timeout)
        return self._p.exitcode

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        self.wait(timeout)
        return self._out.read_text(errors='replace'), self._err.read_text(errors='replace')

def run_script(script: str, *args, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    "`subprocess.run([sys.executable, '-c', script, *args], capture_output=True, text=True)`, forked from the preloaded server."
    p = Script(script, *args, **kw)
    try: out, err = p.communicate(timeout)
    except subprocess.TimeoutExpired: p.kill(); raise
    return subprocess.CompletedProcess(['python', '-c', script, *map(str, args)], p.returncode, out, err)

CLI = "import sys\nfrom ft_pipeline.cli import main\nsys.argv[0] = 'ft-pipeline'\nsys.exit(main())\n"  # what the entry point runs

def start_cli(*args, **kw) -> Script:
    "`ft-pipeline ARGS` started like `subprocess.Popen`, forked from the preloaded server."
    return Script(CLI, *args, **kw)

def run_cli(*args, **kw) -> subprocess.CompletedProcess:
    "`ft-pipeline ARGS` run like `subprocess.run(..., capture_output=True, text=True)`, forked from the preloaded server."
    return run_script(CLI, *args, **kw)
