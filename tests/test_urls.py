"""Every URL of this project in the repository agrees with settings.ini (`git_url`, `doc_host`, `doc_baseurl`, `branch`).

The README, badges, nbs/nbdev.yml, Colab links and install cells all name the repository or the docs site; a guessed or stale
URL is a dead link for a reader. settings.ini is the one place they come from.
"""
import configparser, re, subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
_re_url = re.compile(r'''(?:git\+)?https?://[^\s"'<>()\[\]{}`\\]+''')

def read_settings(root):
    cp = configparser.ConfigParser(delimiters=['=']); cp.read(root/'settings.ini', encoding='utf-8')
    return dict(cp['DEFAULT'])

def url_defects(cfg, files):
    "(file, url, what is wrong) for each URL that names this project's repository, site or notebooks but disagrees with settings.ini"
    user, repo, branch = cfg['user'], cfg['repo'], cfg['branch']
    git_url, site = cfg['git_url'].rstrip('/'), cfg['doc_host'].rstrip('/') + cfg['doc_baseurl'].rstrip('/')
    colab = f'https://colab.research.google.com/github/{git_url.split("github.com/", 1)[-1]}/blob/{branch}/'
    raw = f'https://raw.githubusercontent.com/{git_url.split("github.com/", 1)[-1]}/{branch}/'
    names = {repo.lower(), repo.lower().replace('_', '-'), repo.lower().replace('-', '_')}
    res = []
    for f in files:
        try: text = Path(f).read_text(encoding='utf-8')
        except (UnicodeDecodeError, FileNotFoundError): continue
        for url in _re_url.findall(text):
            url = url.rstrip('.,;:')
            u = url.removeprefix('git+')
            host = u.split('/')[2].lower()
            parts = [p.lower() for p in u.split('/')[3:]]
            if host == 'github.com' and len(parts) >= 2 and parts[1].removesuffix('.git') in names: ok, want = _under(u, git_url), git_url
            elif host == 'colab.research.google.com' and len(parts) >= 3 and parts[2] in names: ok, want = u.startswith(colab), colab
            elif host == 'raw.githubusercontent.com' and len(parts) >= 2 and parts[1] in names: ok, want = u.startswith(raw), raw
            elif host.endswith('.github.io') and (host == f'{user.lower()}.github.io' or (parts and parts[0] in names)):
                ok, want = u == cfg['doc_host'].rstrip('/') or _under(u, site), site
            else: continue
            if not ok: res.append((str(f), url, f'should start with {want} (settings.ini)'))
    return res

def _under(u, base): return u == base or u.startswith((base + '/', base + '.git', base + '@', base + '#'))

def tracked_files(root):
    return [root/f for f in subprocess.run(['git', 'ls-files'], cwd=root, capture_output=True, text=True, check=True).stdout.split()]

def test_settings_urls_are_github_pages_convention():
    "git_url, doc_host and doc_baseurl describe one GitHub repository and its Pages site, as nbdev's deploy workflow publishes it"
    cfg = read_settings(ROOT)
    assert cfg['git_url'] == f'https://github.com/{cfg["user"]}/{cfg["repo"]}', cfg['git_url']
    assert cfg['doc_host'] == f'https://{cfg["user"]}.github.io', cfg['doc_host']
    assert cfg['doc_baseurl'] == f'/{cfg["repo"]}', cfg['doc_baseurl']

def test_nbdev_yml_agrees_with_settings():
    cfg = read_settings(ROOT)
    site = yaml.safe_load((ROOT/'nbs'/'nbdev.yml').read_text())['website']
    assert site['site-url'] == cfg['doc_host'] + cfg['doc_baseurl']
    assert site['repo-url'] == cfg['git_url']
    assert site['repo-branch'] == cfg['branch']
    assert site['description'] == cfg['description']

def test_every_project_url_agrees_with_settings():
    files = tracked_files(ROOT)
    assert any(f.name == 'README.md' for f in files) and any(f.suffix == '.ipynb' for f in files)
    bad = url_defects(read_settings(ROOT), files)
    assert not bad, '\n'.join(f'{f}: {u} {why}' for f, u, why in bad)

def test_a_stale_url_is_found(tmp_path):
    "The check finds what it is for: another owner's repo, a wrong Pages path, a Colab link on another branch"
    cfg = read_settings(ROOT)
    good = [cfg['git_url'], cfg['git_url'] + '/blob/main/README.md', f'git+{cfg["git_url"]}.git', cfg['doc_host'],
            cfg['doc_host'] + cfg['doc_baseurl'] + '/config.html#load_config', 'https://github.com/huggingface/peft',
            f'https://colab.research.google.com/github/{cfg["user"]}/{cfg["repo"]}/blob/{cfg["branch"]}/nbs/04_train.ipynb']
    bad = [f'https://github.com/someone/{cfg["repo"]}', f'https://{cfg["user"]}.github.io/{cfg["repo"]}-docs/index.html',
           f'https://colab.research.google.com/github/{cfg["user"]}/{cfg["repo"]}/blob/dev/nbs/04_train.ipynb',
           f'pip install git+https://github.com/guess/{cfg["repo"].replace("_", "-")}']
    (tmp_path/'README.md').write_text('\n'.join(f'see {u}.' for u in good + bad))
    found = url_defects(cfg, [tmp_path/'README.md'])
    assert [u for _, u, _ in found] == [b.split()[-1] for b in bad], found
