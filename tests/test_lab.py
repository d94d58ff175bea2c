"""`make lab` serves the notebooks: JupyterLab on 127.0.0.1 behind a token, with the ipywidgets extension and a working kernel.

The test starts the real `make lab` on a free port, reads the URL and token it prints, talks to it over HTTP and a kernel
websocket as JupyterLab in a browser would, and stops it.
"""
import contextlib, json, os, re, signal, socket, subprocess, sys, time, urllib.error, urllib.request, uuid
from pathlib import Path

import pytest
import websocket  # websocket-client, a jupyter_server dependency

ROOT = Path(__file__).resolve().parents[1]

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def call(base, path, token=None, method='GET'):
    req = urllib.request.Request(base + path, method=method, headers={'Authorization': f'token {token}'} if token else {})
    with urllib.request.urlopen(req, timeout=30) as r: return r.status, r.read().decode()

@contextlib.contextmanager
def serve_lab(log: Path, lab_dir: Path | None = None):
    "Run the real `make lab` (serving `lab_dir`, default nbs/) on a free port; yields (base URL, token) read from what it prints"
    port, venv = free_port(), Path(sys.prefix)
    # `-o`: this interpreter's venv counts as installed, so the test never reinstalls it
    cmd = ['make', '-C', str(ROOT), '-o', f'{venv}/bin/ft-pipeline', 'lab', f'VENV={venv}', f'PORT={port}'] + ([f'LAB_DIR={lab_dir}'] if lab_dir else [])
    with open(log, 'w') as out:
        env = {k: v for k, v in os.environ.items() if k != 'JUPYTER_TOKEN'}  # as a user runs it: Jupyter makes a token and prints it
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f'http://127.0.0.1:{port}'
    try:
        for _ in range(240):
            if p.poll() is not None: pytest.fail(f'make lab exited with {p.returncode}:\n{log.read_text()[-3000:]}')
            m = re.search(rf'{re.escape(base)}/lab\?token=([0-9a-f]{{32,}})', log.read_text())
            if m: break
            time.sleep(0.5)
        else: pytest.fail(f'make lab printed no {base}/lab?token=... URL within 120 s:\n{log.read_text()[-3000:]}')
        token = m[1]
        call(base, '/api/status', token)
        yield base, token
    finally:
        os.killpg(p.pid, signal.SIGTERM)  # make and the jupyter server it started: the process group this test created
        p.wait(30)

@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    with serve_lab(tmp_path_factory.mktemp('lab')/'lab.log') as (base, token): yield base, token

def test_lab_page_has_the_widgets_extension(lab):
    base, token = lab
    status, html = call(base, f'/lab?token={token}')
    assert status == 200 and 'JupyterLab' in html
    assert '@jupyter-widgets/jupyterlab-manager' in html  # ipywidgets 8's lab extension: the dashboards render without a build step

def test_serves_every_notebook(lab):
    base, token = lab
    listed = {c['name'] for c in json.loads(call(base, '/api/contents/', token)[1])['content']}
    on_disk = {p.name for p in (ROOT/'nbs').glob('*.ipynb')}
    assert on_disk and on_disk <= listed, on_disk - listed
    name = sorted(on_disk)[0]
    nb = json.loads(call(base, f'/api/contents/{name}?content=1', token)[1])
    assert nb['type'] == 'notebook'
    assert len(nb['content']['cells']) == len(json.loads((ROOT/'nbs'/name).read_text())['cells'])

def test_needs_the_token(lab):
    base, _ = lab
    with pytest.raises(urllib.error.HTTPError) as e: call(base, '/api/contents/')
    assert e.value.code == 403

def run_in_kernel(base, token, kernel_id, code, timeout=120):
    "Execute `code` over the kernel's websocket, as JupyterLab does; returns the stdout it printed"
    ws = websocket.create_connection(f'ws{base[4:]}/api/kernels/{kernel_id}/channels?token={token}', timeout=timeout)
    try:
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({'header': {'msg_id': msg_id, 'msg_type': 'execute_request', 'username': 'test', 'session': uuid.uuid4().hex,
                                       'version': '5.3'}, 'parent_header': {}, 'metadata': {}, 'channel': 'shell',
                            'content': {'code': code, 'silent': False, 'store_history': False, 'user_expressions': {}, 'allow_stdin': False}}))
        out = []
        while True:
            m = json.loads(ws.recv())
            if m.get('parent_header', {}).get('msg_id') != msg_id: continue
            if m['msg_type'] == 'stream': out.append(m['content']['text'])
            if m['msg_type'] == 'error': raise AssertionError('\n'.join(m['content']['traceback']))
            if m['msg_type'] == 'status' and m['content']['execution_state'] == 'idle': return ''.join(out)
    finally: ws.close()

def test_a_kernel_runs_the_package_and_widgets(lab):
    "The notebooks' kernel is this venv's Python: it imports ft_pipeline and ipywidgets 8"
    base, token = lab
    assert 'python3' in json.loads(call(base, '/api/kernelspecs', token)[1])['kernelspecs']
    k = json.loads(call(base, '/api/kernels', token, method='POST')[1])
    try:
        out = run_in_kernel(base, token, k['id'], 'import sys, ipywidgets, ft_pipeline\nprint(sys.prefix, ipywidgets.__version__)')
        prefix, version = out.split()
        assert Path(prefix) == Path(sys.prefix) and int(version.split('.')[0]) >= 8, out
    finally: call(base, f'/api/kernels/{k["id"]}', token, method='DELETE')
