"""Check every docs page as a reader sees it, where Quarto is not installed.

`make docs` builds the real site with Quarto (`nbdev_docs`). Where Quarto is missing, this script takes nbdev's processed notebooks
(`_proc/`, written by `proc_nbs`, the step before Quarto renders), renders each to HTML the way Quarto would (frontmatter title
block, `#|` cell options, `output: asis` show_doc output, `{{< include >}}`, link attributes, a sidebar from `nbs/sidebar.yml`),
opens every page in headless Chromium and checks it:

- the title and description are there and visible;
- no raw `#|` directive or `# %%` marker is visible;
- every `show_doc` output is rendered, with its heading and signature visible;
- every figure is visible: the image loads and its screenshot is not blank (pixel variance);
- no error output (tracebacks, `...Error:` lines);
- every link to a page of the site (sidebar or text) reaches an existing page; the sidebar lists every page.

A link to a missing anchor on an existing page (nbdev links every backticked name it indexed, private helpers too, but only
documented names get a heading) is a warning: printed and in the report, but the check still passes.

Pages and screenshots go to `_docs_check/` (`site/*.html`, one `<page>.png` each, `report.md`). Chromium comes from the system
(`apt-get install chromium`; Playwright drives it through `executable_path`, as its own browser download needs the internet).
Without it the static checks still run and a `SKIP:` line says so. Exit code 0: no defects; 1: defects (listed per page); 2: bad input.

    python tools/docs_check.py [--proc _proc] [--nbs nbs] [--out _docs_check] [--browser /usr/bin/chromium]
"""
import argparse, configparser, contextlib, io, os, re, shutil, sys, warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, unquote

import nbformat, numpy as np, yaml
from nbformat.warnings import DuplicateCellId
from bs4 import BeautifulSoup
from PIL import Image

BROWSERS = ['chromium', 'google-chrome-stable', 'google-chrome', 'chromium-browser']
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']
INSTALL_HINT = 'apt-get install chromium'
MIN_VARIANCE = 1.0  # grey-level variance (0-255 scale) below which a figure counts as blank: a plot's axes and text alone give hundreds

# ---------------------------------------------------------------------------------------------------------------- reading pages
@dataclass
class Page:
    src: Path                     # the processed notebook in _proc
    rel: str                      # its path relative to _proc (and to nbs/), e.g. '00_config.ipynb'
    out: str                      # the HTML page Quarto writes, e.g. 'config.html' (nbdev's `output-file`)
    fm: dict                      # frontmatter: title, description, ...
    nb: nbformat.NotebookNode = None
    defects: list = field(default_factory=list)
    warnings: list = field(default_factory=list)  # links to anchors that are not there
    notes: list = field(default_factory=list)
    show_docs: list = field(default_factory=list)
    figures: list = field(default_factory=list)  # pixel variance of each figure as shown

_re_fm = re.compile(r'^---[ \t]*\n(.*?\S.*?)\n---[ \t]*(?:\n|$)', re.DOTALL)

def frontmatter(src):
    "A leading `---` YAML block of a raw or markdown cell (Quarto reads both as page metadata): (mapping or None, the rest)"
    m = _re_fm.match(src.lstrip())
    d = yaml.safe_load(m[1]) if m else None
    return (d, src.lstrip()[m.end():]) if isinstance(d, dict) else (None, src)

def read_page(src, proc):
    "A processed page: its frontmatter and output name (`output-file`, else the source name with .html)"
    rel = src.relative_to(proc).as_posix()
    if src.suffix == '.ipynb':
        with warnings.catch_warnings():  # a duplicate cell id is no page defect (nbformat renumbers it)
            warnings.simplefilter('ignore', DuplicateCellId)
            nb = nbformat.read(src, as_version=4)
        fm = {}
        for c in nb.cells:
            if c.cell_type in ('raw', 'markdown') and (d := frontmatter(c.source)[0]) is not None: fm.update(d)
    else:  # .qmd/.md: one markdown document
        text = src.read_text(encoding='utf-8')
        fm = frontmatter(text)[0] or {}
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
    out = str(Path(rel).with_name(fm.get('output-file') or Path(rel).with_suffix('.html').name).as_posix())
    return Page(src=src, rel=rel, out=out, fm=fm, nb=nb)

def find_pages(proc):
    "Every page nbdev processed: notebooks, .qmd and .md files, skipping `_`-prefixed names as Quarto does"
    files = [p for p in sorted(proc.rglob('*')) if p.suffix in ('.ipynb', '.qmd', '.md')
             and not any(part.startswith(('_', '.')) for part in p.relative_to(proc).parts)]
    return [read_page(p, proc) for p in files]

# ---------------------------------------------------------------------------------------------------------------- sidebar
class BadInput(Exception): "Missing or unreadable input: exit code 2"

def sidebar_entries(contents):
    "The files sidebar.yml's `contents` lists, sections flattened; a section's own `href` counts as an entry"
    for o in contents or []:
        if isinstance(o, str): yield o
        elif isinstance(o, dict):
            if o.get('href'): yield o['href']
            yield from sidebar_entries(o.get('contents'))
        else: raise BadInput(f'nbs/sidebar.yml: cannot read the entry {o!r} (a file name or a section mapping)')

def read_sidebar(nbs):
    d = yaml.safe_load((nbs/'sidebar.yml').read_text(encoding='utf-8')) or {}
    return (d.get('website') or {}).get('sidebar') or {}

def sidebar_target(entry, by_src):
    "Where Quarto links a sidebar entry: the page's output file, or (for a file that is no page) the name as given"
    if entry in by_src: return by_src[entry].out
    p = Path(entry)
    return p.with_suffix('.html').as_posix() if p.suffix in ('.ipynb', '.qmd', '.md') else entry

def nbdev_sidebar_text(nbs):
    "The sidebar.yml that `nbdev_docs` writes when settings.ini has custom_sidebar = False"
    from nbdev.quarto import nbdev_sidebar
    buf = io.StringIO()
    # the file selection nbdev_docs passes on (its command-line defaults): notebooks, .qmd and .html files
    with contextlib.redirect_stdout(buf):
        nbdev_sidebar.__wrapped__(path=nbs, printit=True, force=True, file_glob=None, file_re=r'\.(?:ipynb|qmd|html)$')
    return buf.getvalue()

def check_sidebar(nbs, pages, custom_sidebar):
    "Defects of nbs/sidebar.yml itself: entries that are no page, pages it does not list, drift from nbdev's own sidebar"
    by_src = {p.rel: p for p in pages}
    entries = list(sidebar_entries(read_sidebar(nbs).get('contents')))
    res = [f'sidebar.yml lists {e!r}, which is not a page (no notebook, .qmd or .md of that name in nbs/): remove it'
           for e in entries if e not in by_src]
    res += [f'{p.rel} is not in nbs/sidebar.yml: no link reaches it; add it (nbdev_sidebar writes the list)'
            for p in pages if p.rel not in entries]
    if not custom_sidebar:
        want = yaml.safe_load(nbdev_sidebar_text(nbs))
        have = yaml.safe_load((nbs/'sidebar.yml').read_text(encoding='utf-8'))
        if want != have: res.append('nbs/sidebar.yml differs from the one nbdev_docs generates (settings.ini: custom_sidebar = False), so '
                                    'make docs would rewrite it: run nbdev_sidebar and commit the result')
    return res

def sidebar_html(sidebar, by_src, page):
    "The sidebar as a nested list of links, relative to `page`"
    def href(e): return os.path.relpath(sidebar_target(e, by_src), Path(page.out).parent.as_posix() or '.')
    def items(contents):
        res = []
        for o in contents or []:
            if isinstance(o, str):
                title = by_src[o].fm.get('title', o) if o in by_src else o
                cur = ' class="active"' if o == page.rel else ''
                res.append(f'<li><a{cur} href="{href(o)}">{_esc(title)}</a></li>')
            else:
                name = _esc(o.get('section') or o.get('text') or '')
                head = f'<a href="{href(o["href"])}">{name}</a>' if o.get('href') else f'<span>{name}</span>'
                res.append(f'<li class="section">{head}<ul>{items(o.get("contents"))}</ul></li>')
        return ''.join(res)
    return f'<nav id="quarto-sidebar"><ul>{items(sidebar.get("contents"))}</ul></nav>'

def _esc(s): return str(s).replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;').replace('"', '&quot;')

# ---------------------------------------------------------------------------------------------------------------- Quarto semantics
_re_opt = re.compile(r'^#\|\s*([\w.-]+)\s*:\s*(.*?)\s*$')
_re_show_doc = re.compile(r'^show_doc\(\s*([\w.]+)')

def cell_options(src):
    "Quarto's cell options: the `#| key: value` lines at the top of a code cell, which Quarto hides. Returns (options, code)"
    lines, opts = src.splitlines(), {}
    while lines and (m := _re_opt.match(lines[0])):
        opts[m[1]] = yaml.safe_load(m[2]) if m[2] else None
        lines.pop(0)
    return opts, '\n'.join(lines)

_re_include = re.compile(r'\{\{<\s*include\s+(\S+?)\s*>\}\}')
_re_link_attrs = re.compile(r'\[([^\]]*)\]\(([^)\s]+)\)\{([^}]*)\}')
_re_heading_attrs = re.compile(r'^(#{1,6}\s.*?)\s*\{([^}]*)\}\s*$', re.MULTILINE)
_re_div_open = re.compile(r'^:{3,}\s*\{([^}]*)\}\s*$', re.MULTILINE)
_re_div_close = re.compile(r'^:{3,}\s*$', re.MULTILINE)

def _attrs(spec):
    "Pandoc attributes `{#id .cls key=val}` as HTML attributes"
    ids = re.findall(r'(?:^|\s)#([\w:.-]+)', spec)
    cls = re.findall(r'(?:^|\s)\.([\w-]+)', spec)
    kv = re.findall(r'([\w-]+)=("[^"]*"|\S+)', spec)
    res = [f'id="{ids[0]}"'] if ids else []
    if cls: res.append(f'class="{" ".join(cls)}"')
    res += [f'{k}="{_esc(v.strip(chr(34)))}"' for k, v in kv]
    return ' '.join(res)

def quarto_markdown(md, base):
    "The Quarto/Pandoc extensions our pages use, as plain Markdown+HTML: include shortcodes, fenced divs, link and heading attributes"
    md = _re_include.sub(lambda m: (base/m[1]).read_text(encoding='utf-8') if (base/m[1]).exists() else m[0], md)
    md = _re_link_attrs.sub(lambda m: f'<a href="{_esc(m[2])}" {_attrs(m[3])}>{m[1]}</a>', md)
    md = _re_heading_attrs.sub(lambda m: f'{m[1]} <!--attrs {m[2]}-->', md)
    md = _re_div_open.sub(lambda m: f'<div {_attrs(m[1])}>\n', md)
    return _re_div_close.sub('\n</div>', md)

def check_outputs(page, i, c, code):
    "What the notebook itself says is wrong with a code cell's saved outputs"
    for o in c.outputs:
        if o.output_type == 'error': page.defects.append(f'cell {i}: error output {o.ename}: {o.evalue}')
        if o.output_type in ('execute_result', 'display_data') and not o.get('data'):
            page.notes.append(f'cell {i}: an output with nothing to show (a widget whose view was not saved?): {code.splitlines()[-1][:80]!r}')

def asis_cell(c, show_doc, base):
    "`output: asis`: Quarto pastes the cell's markdown output into the page; show_doc output is marked with its name"
    md = '\n\n'.join(''.join(o.data['text/markdown']) for o in c.outputs if 'text/markdown' in o.get('data', {}))
    wrap = f'<div class="cell-output-asis" data-show-doc="{show_doc}">' if show_doc else '<div class="cell-output-asis">'
    return nbformat.v4.new_markdown_cell(f'{wrap}\n\n{quarto_markdown(md, base)}\n\n</div>')

def quarto_cells(page):
    "The notebook as Quarto shows it: frontmatter out, options applied and hidden, `output: asis` as markdown, show_doc marked"
    cells, base = [], page.src.parent
    for i, c in enumerate(page.nb.cells):
        if c.cell_type in ('raw', 'markdown'):
            rest = frontmatter(c.source)[1]
            if rest.strip(): cells.append(nbformat.v4.new_markdown_cell(quarto_markdown(rest, base)))
            continue
        opts, code = cell_options(c.source)
        if opts.get('include') is False: continue
        sd = _re_show_doc.match(code)
        if sd:
            page.show_docs.append(sd[1])
            if not any('text/markdown' in o.get('data', {}) for o in c.outputs):
                page.defects.append(f'cell {i}: show_doc({sd[1]}) has no rendered output (did it fail when nbdev processed the page?)')
        check_outputs(page, i, c, code)
        echo = opts.get('echo') is not False
        if echo: cells.append(nbformat.v4.new_code_cell(code))
        if opts.get('output') is False: continue
        if opts.get('output') == 'asis': cells.append(asis_cell(c, sd and sd[1], base)); continue
        outs = [o for o in c.outputs if o.output_type not in ('execute_result', 'display_data') or o.get('data')]
        if echo: cells[-1].outputs = outs
        else: cells.append(nbformat.v4.new_code_cell('', outputs=outs, metadata={'transient': {'remove_source': True}}))
    return cells

# ---------------------------------------------------------------------------------------------------------------- rendering
PAGE_CSS = """
body { margin: 0; display: flex; font-family: system-ui, sans-serif; }
#quarto-sidebar { width: 230px; flex: none; padding: 1rem; border-right: 1px solid #ddd; font-size: 14px; }
#quarto-sidebar ul { list-style: none; padding-left: 0.8rem; margin: 0.2rem 0; }
#quarto-sidebar a.active { font-weight: bold; }
main { flex: 1; min-width: 0; max-width: 1100px; padding: 1rem 2rem; }
#title-block-header h1.title { font-size: 2.2rem; margin-bottom: 0.3rem; }
.jp-Notebook { padding: 0; }
"""

def pandoc_id(text):
    "Pandoc's auto identifier for a heading (what Quarto and nbdev's doc links use)"
    s = re.sub(r'[^\w\s.-]', '', text.strip().lower())
    s = re.sub(r'\s+', '-', s)
    return re.sub(r'^[^a-z]+', '', s) or 'section'

def set_heading_ids(soup):
    "Heading ids as Pandoc makes them (or as `{#id}` gives them), so nbdev's doc links (`config.html#load_config`) resolve"
    seen = set()
    for h in soup.select('h1, h2, h3, h4, h5, h6'):
        attrs = h.find(string=lambda s: isinstance(s, str) and s.startswith('attrs '), recursive=False)
        hid = pandoc_id(h.get_text())
        if attrs is not None:
            m = re.search(r'#([\w:.-]+)', attrs); attrs.extract()
            if m: hid = m[1]
        stem, n = hid, 1
        while hid in seen: hid, n = f'{stem}-{n}', n + 1
        seen.add(hid); h['id'] = hid

def link_notebooks(soup, page, by_src):
    "Quarto turns a link to a notebook into a link to its page"
    for a in soup.select('a[href]'):
        parts = urlsplit(a['href'])
        if parts.scheme or not parts.path.endswith(('.ipynb', '.qmd')): continue
        target = os.path.normpath((Path(page.rel).parent/unquote(parts.path)).as_posix())
        out = by_src[target].out if target in by_src else str(Path(parts.path).with_suffix('.html'))
        a['href'] = os.path.relpath(out, Path(page.out).parent.as_posix() or '.') + (f'#{parts.fragment}' if parts.fragment else '')

def copy_images(soup, page, site):
    "Quarto copies the files a page shows next to it"
    for img in soup.select('img[src]'):
        parts = urlsplit(img['src'])
        f = page.src.parent/unquote(parts.path)
        if parts.scheme or not parts.path or not f.is_file(): continue
        dst = site/Path(page.out).parent/unquote(parts.path)
        dst.parent.mkdir(parents=True, exist_ok=True); shutil.copy2(f, dst)

def render_page(page, pages, sidebar, site, nbs_css):
    "Write `page` as HTML under `site`, laid out as Quarto's: sidebar, title block, cells; returns the HTML path"
    from nbconvert import HTMLExporter
    nb = nbformat.v4.new_notebook(cells=quarto_cells(page), metadata={'language_info': {'name': 'python'}})
    exp = HTMLExporter(template_name='lab', exclude_input_prompt=True, exclude_output_prompt=True, exclude_anchor_links=True)
    soup = BeautifulSoup(exp.from_notebook_node(nb, resources={'metadata': {'name': page.fm.get('title', page.rel)}})[0], 'lxml')
    for t in soup.select('script[src], link[href]'):  # CDN scripts (require.js, MathJax, widgets): the check runs offline
        if urlsplit(t.get('src') or t.get('href')).scheme: t.decompose()
    by_src = {p.rel: p for p in pages}
    set_heading_ids(soup); link_notebooks(soup, page, by_src); copy_images(soup, page, site)
    main = soup.new_tag('main')
    main.append(BeautifulSoup(title_block(page.fm), 'html.parser'))
    for child in list(soup.body.contents): main.append(child.extract())
    soup.body.append(BeautifulSoup(sidebar_html(sidebar, by_src, page), 'html.parser'))
    soup.body.append(main)
    style = soup.new_tag('style'); style.string = PAGE_CSS + nbs_css; soup.head.append(style)
    if page.fm.get('description'): soup.head.append(soup.new_tag('meta', attrs={'name': 'description', 'content': page.fm['description']}))
    dst = site/page.out
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(str(soup), encoding='utf-8')
    return dst

def title_block(fm):
    "Quarto's title block (none with `title-block-style: none`, where the page's own first heading is the title)"
    if fm.get('title-block-style') == 'none' or not fm.get('title'): return ''
    from nbconvert.filters import markdown2html_mistune
    desc = f'<div class="description">{markdown2html_mistune(str(fm["description"]))}</div>' if fm.get('description') else ''
    return f'<header id="title-block-header"><h1 class="title">{_esc(fm["title"])}</h1>{desc}</header>'

# ---------------------------------------------------------------------------------------------------------------- static checks
_re_directive = re.compile(r'^\s*#\|', re.MULTILINE)
_re_percent = re.compile(r'^\s*(?:#\s*)?%%(?=\s|$)', re.MULTILINE)  # in a markdown cell `# %%` shows as a heading `%%`
_re_shortcode = re.compile(r'\{\{<.*?>\}\}')
_re_traceback = re.compile(r'Traceback \(most recent call last\)|^\s*[\w.]*(?:Error|Exception)(?::|$)', re.MULTILINE)

def text_defects(text):
    "Raw directives, cell markers and unrendered shortcodes in the text a reader sees"
    res = [f'raw `#|` directive visible: {l.strip()!r}' for l in text.splitlines() if _re_directive.match(l)]
    res += [f'raw `# %%` cell marker visible: {l.strip()!r}' for l in text.splitlines() if _re_percent.match(l)]
    res += [f'unrendered Quarto shortcode {m!r}' for m in _re_shortcode.findall(text)]
    return res

def error_defects(output_text):
    "An output that shows an error: a traceback, or a line starting with `SomethingError:`"
    m = _re_traceback.search(output_text)
    return [f'error output: {_first_line(output_text, m.start())!r}'] if m else []

def _first_line(text, pos): return text[pos:].strip().splitlines()[0][:160] if text[pos:].strip() else ''

class Site:
    "The rendered pages and their heading ids, to resolve links"
    def __init__(self, site, site_url): self.site, self.site_url, self._ids = site, site_url.rstrip('/'), {}
    def ids(self, f):
        if f not in self._ids:
            soup = BeautifulSoup(f.read_text(encoding='utf-8'), 'lxml')
            self._ids[f] = {t['id'] for t in soup.select('[id]')} | {t['name'] for t in soup.select('a[name]')}
        return self._ids[f]
    def resolve(self, href, page):
        "The local file and anchor a link reaches, or None for a link outside the site (not checked offline)"
        parts = urlsplit(href)
        if parts.scheme in ('mailto', 'javascript', 'data'): return None
        if parts.scheme:
            url = f'{parts.scheme}://{parts.netloc}{parts.path}'
            if not (self.site_url and url.startswith(self.site_url + '/')): return None
            path = url[len(self.site_url) + 1:]
        else: path = (Path(page.out).parent/unquote(parts.path)).as_posix() if parts.path else page.out
        path = os.path.normpath(path)
        if path.endswith('/') or path in ('', '.'): path = os.path.join(path, 'index.html')
        return self.site/path, parts.fragment
    def check_links(self, html_file, page):
        "Links to missing pages (page defects, or sidebar defects) and to missing anchors (page warnings)"
        soup = BeautifulSoup(html_file.read_text(encoding='utf-8'), 'lxml')
        side = []
        for a in soup.select('a[href]'):
            r = self.resolve(a['href'], page)
            if r is None: continue
            f, frag = r
            what = f'link {a["href"]!r} ({a.get_text().strip()!r})'
            if not f.is_file():
                msg = f'{what} goes to a page that does not exist'
                if a.find_parent(id='quarto-sidebar') is not None: side.append(msg)
                else: page.defects.append(msg)
            elif frag and frag not in self.ids(f):
                msg = f'{what}: {f.name} has no anchor #{frag} (document it with show_doc, or drop the backticks)'
                if msg not in page.warnings: page.warnings.append(msg)
        return side

def static_text_checks(page, html_file):
    "The text checks on the HTML itself (used where no browser is available)"
    soup = BeautifulSoup(html_file.read_text(encoding='utf-8'), 'lxml')
    main = soup.find('main')
    res = text_defects(main.get_text('\n'))
    for o in main.select('.jp-OutputArea-output'): res += error_defects(o.get_text('\n'))
    if not page.fm.get('title'): res.append('no title (the notebook needs a `# Title` cell, or `title:` in its frontmatter)')
    if not page.fm.get('description'): res.append('no description (a `> subtitle` line under the title, or `description:` in its frontmatter)')
    for name in page.show_docs:
        box = main.select_one(f'[data-show-doc="{name}"]')
        if box is None or not _signature_in(box.get_text('\n'), name): res.append(f'show_doc({name}): no signature rendered')
    return res

def _signature_in(text, name):
    short = re.escape(name.split('.')[-1])
    return re.search(rf'\b{short}\s*\(', text) is not None

# ---------------------------------------------------------------------------------------------------------------- browser checks
def find_browser(explicit=None):
    "A Chromium-family executable: --browser, $CHROMIUM, or the first of chromium / google-chrome on PATH"
    for c in [explicit, os.environ.get('CHROMIUM')] + BROWSERS:
        if c and (p := shutil.which(c)): return p
    return None

PAGE_FACTS_JS = """(names) => {
  const vis = e => { if (!e) return false; const r = e.getBoundingClientRect(), s = getComputedStyle(e);
                     return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const main = document.querySelector('main');
  const tb = document.querySelector('#title-block-header');
  const title = tb ? tb.querySelector('h1.title') : main.querySelector('h1');
  const desc = tb ? tb.querySelector('.description') : null;
  const sd = names.map(n => { const box = main.querySelector(`[data-show-doc="${n}"]`);
    if (!box) return {name: n, found: false};
    const h = [...box.querySelectorAll('h1,h2,h3,h4,h5,h6')].find(vis);
    const code = [...box.querySelectorAll('pre, code')].filter(vis).map(e => e.innerText).join('\\n');
    return {name: n, found: true, heading: h ? h.innerText : null, code: code}; });
  const figs = [...main.querySelectorAll('img, .jp-RenderedSVG svg, .jp-RenderedImage svg')].map((e, i) => {
    e.setAttribute('data-fig', i);
    return {i: i, tag: e.tagName, src: (e.getAttribute('src') || '').slice(0, 80), visible: vis(e),
            loaded: e.tagName !== 'IMG' || (e.complete && e.naturalWidth > 0)}; });
  const outs = [...main.querySelectorAll('.jp-OutputArea-output')].map(e => ({text: e.innerText,
    stderr: e.getAttribute('data-mime-type') === 'application/vnd.jupyter.stderr'}));
  return {title: vis(title) ? title.innerText : null, desc: desc && vis(desc) ? desc.innerText : null,
          text: main.innerText, showDocs: sd, figs: figs, outputs: outs};
}"""

def browser_checks(page, html_file, browser_page, shots):
    "Open the page in Chromium: what is visible, whether figures show, and a full-page screenshot"
    res, failed = [], []
    browser_page.on('requestfailed', lambda r: failed.append(r.url))
    browser_page.goto(html_file.resolve().as_uri(), wait_until='load')
    f = browser_page.evaluate(PAGE_FACTS_JS, page.show_docs)
    want = page.fm.get('title')
    if not f['title'] or not want or f['title'].strip() != str(want).strip():
        res.append(f'title not visible as a heading (frontmatter title {want!r}, page shows {f["title"]!r})')
    if not page.fm.get('description'):
        res.append('no description (a `> subtitle` line under the title, or `description:` in its frontmatter)')
    elif page.fm.get('title-block-style') != 'none' and not f['desc']: res.append('description not visible under the title')
    res += text_defects(f['text'])
    for sd in f['showDocs']:
        if not sd['found']: res.append(f'show_doc({sd["name"]}): not on the page')
        elif not sd['heading']: res.append(f'show_doc({sd["name"]}): no visible heading')
        elif not _signature_in(sd['code'], sd['name']): res.append(f'show_doc({sd["name"]}): no visible signature')
    for o in f['outputs']:
        res += error_defects(o['text'])
        if o['stderr'] and not error_defects(o['text']) and o['text'].strip():
            page.notes.append(f'stderr output on the page: {o["text"].strip().splitlines()[0][:120]!r}')
    for fig in f['figs']:
        src = 'inline ' + fig['src'][11:].split(';')[0] if fig['src'].startswith('data:image/') else repr(fig['src'])
        what = f'figure {fig["i"] + 1} ({fig["tag"].lower()} {src})'
        if fig['src'].startswith(('http://', 'https://')): page.notes.append(f'{what}: external image, not checked offline'); continue
        if not fig['loaded']: res.append(f'{what}: does not load'); continue
        if not fig['visible']: res.append(f'{what}: not visible (zero size or hidden)'); continue
        png = browser_page.locator(f'[data-fig="{fig["i"]}"]').screenshot()
        var = float(np.asarray(Image.open(io.BytesIO(png)).convert('L'), dtype=np.float64).var())
        page.figures.append(var)
        if var < MIN_VARIANCE: res.append(f'{what}: blank as shown (pixel variance {var:.2f})')
    res += [f'resource failed to load: {u}' for u in failed if not u.startswith(('http://', 'https://'))]
    browser_page.screenshot(path=str(shots/shot_name(page)), full_page=True)
    return res

def shot_name(page): return Path(page.out).with_suffix('.png').as_posix().replace('/', '__')

# ---------------------------------------------------------------------------------------------------------------- main
def read_settings(root):
    cp = configparser.ConfigParser(delimiters=['=']); cp.read(root/'settings.ini', encoding='utf-8')
    return cp['DEFAULT']

def check(proc, nbs, out, browser=None, use_browser=True):
    "Render and check every page; returns (pages, sidebar defects, browser path or None)"
    if not proc.is_dir() or not any(proc.glob('*.ipynb')):
        raise BadInput(f'{proc}/ has no processed notebooks: run `make docs-check` (nbdev proc_nbs) first')
    cfg = read_settings(nbs.resolve().parent)
    pages = find_pages(proc)
    missing = sorted({p.relative_to(nbs).as_posix() for p in nbs.rglob('*.ipynb') if not any(
        s.startswith(('_', '.')) for s in p.relative_to(nbs).parts)} - {p.rel for p in pages})
    if missing: raise BadInput(f'{proc}/ lacks {", ".join(missing)}: it is older than nbs/; run `make docs-check` again')
    side = check_sidebar(nbs, pages, cfg.get('custom_sidebar', 'False').lower() == 'true')
    sidebar = read_sidebar(nbs)
    site, shots = out/'site', out
    shutil.rmtree(out, ignore_errors=True); site.mkdir(parents=True)
    css = (nbs/'styles.css').read_text(encoding='utf-8') if (nbs/'styles.css').exists() else ''
    s = Site(site, cfg.get('doc_host', '') + cfg.get('doc_baseurl', ''))
    exe = find_browser(browser) if use_browser else None
    # One thread renders the pages, then checks their links (a link's target page must be written first), while this one drives
    # Chromium through each page as soon as it is written: Chromium works in processes of its own, so the two overlap.
    with ThreadPoolExecutor(1) as pool:
        files = {p.rel: pool.submit(render_page, p, pages, sidebar, site, css) for p in pages}
        links = pool.submit(lambda: [s.check_links(files[p.rel].result(), p) for p in pages])
        if exe is not None: browse(pages, {k: f.result for k, f in files.items()}, exe, shots)
        for found in links.result(): side += [d for d in found if d not in side]
    if exe is None:
        for p in pages: p.defects += static_text_checks(p, files[p.rel].result())
    return pages, side, exe

def browse(pages, html_file, exe, shots):
    "`browser_checks` of each page in Chromium `exe`; `html_file[p.rel]()` waits for the page's HTML file"
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        ctx = b.new_context(viewport={'width': 1400, 'height': 900})
        ctx.route(re.compile(r'^https?://'), lambda route: route.abort())  # offline: nothing leaves the machine
        for p in pages:
            f = html_file[p.rel]()
            bp = ctx.new_page()
            p.defects += browser_checks(p, f, bp, shots)
            bp.close()
        b.close()

def report(pages, side, exe, out):
    lines = ['# Docs check', '', f'Browser: {exe or "none (static checks only)"}', '']
    if side: lines += ['## sidebar', ''] + [f'- {d}' for d in side] + ['']
    for p in pages:
        status = 'defects' if p.defects else 'ok'
        figs = ', '.join(f'{v:.0f}' for v in p.figures)
        lines += [f'## {p.rel} -> {p.out}: {status}', '',
                  f'{len(p.show_docs)} show_doc; {len(p.figures)} figures (pixel variance {figs or "-"}); screenshot {shot_name(p)}', '']
        lines += [f'- {d}' for d in p.defects] + [f'- warning: {w}' for w in p.warnings] + [f'- note: {n}' for n in p.notes] + ['']
    (out/'report.md').write_text('\n'.join(lines), encoding='utf-8')

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--proc', default='_proc', help="nbdev's processed pages (make docs-check writes them)")
    ap.add_argument('--nbs', default='nbs', help='the notebooks folder, with sidebar.yml and styles.css')
    ap.add_argument('--out', default='_docs_check', help='where the HTML pages, screenshots and report.md go')
    ap.add_argument('--browser', help='Chromium executable (default: $CHROMIUM, then chromium / google-chrome on PATH)')
    ap.add_argument('--no-browser', action='store_true', help='static checks only (what runs where no Chromium is found)')
    ap.add_argument('--find-browser', action='store_true', help='print the Chromium this would use and exit (1 if none)')
    a = ap.parse_args(argv)
    if a.find_browser:
        exe = find_browser(a.browser)
        print(exe or f'no Chromium found: install with: {INSTALL_HINT}')
        return 0 if exe else 1
    out = Path(a.out)
    try: pages, side, exe = check(Path(a.proc), Path(a.nbs), out, a.browser, use_browser=not a.no_browser)
    except BadInput as e:
        print(f'docs_check: {e}', file=sys.stderr); return 2
    report(pages, side, exe, out)
    if exe is None and a.no_browser: print('SKIP: browser checks of the docs pages (--no-browser); static checks ran')
    elif exe is None: print(f'SKIP: browser checks of the docs pages (visibility, figures, screenshots): no Chromium found; '
                            f'install with: {INSTALL_HINT}   (static checks ran)')
    for d in side: print(f'FAIL sidebar: {d}')
    for p in pages:
        print(f'{"FAIL" if p.defects else "ok  "} {p.rel} -> {p.out} ({len(p.show_docs)} show_doc, {len(p.figures)} figures)')
        for d in p.defects: print(f'       - {d}')
        for w in p.warnings: print(f'       warning: {w}')
    bad = sum(bool(p.defects) for p in pages)
    print(f'docs-check: {len(pages)} pages rendered to {out}/site, {"checked in " + Path(exe).name if exe else "static checks only"}: '
          f'{len(pages) - bad} clean, {bad} with defects, {len(side)} sidebar defects, {sum(len(p.warnings) for p in pages)} warnings; '
          f'report: {out}/report.md')
    return 1 if bad or side else 0

if __name__ == '__main__': sys.exit(main())
