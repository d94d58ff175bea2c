"""Every notebook reads as a unit per idea (issue 14): each public function or class an `#| export` cell defines is used by a later
code cell of the same notebook (an example or a test), and no exported cell runs past MAX_LINES without prose between.

Light: the notebooks are parsed as JSON and their code with `ast`; nothing is executed.
"""
import ast, io, json, re, tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 45
_EXPORT = re.compile(r'^\s*#\|\s*export\s*$', re.M)

def _src(cell) -> str: return ''.join(cell['source'])

def _is_export(cell) -> bool:
    return cell['cell_type'] == 'code' and bool(_EXPORT.search(_src(cell).split('\n\n')[0]))

def _code_only(src: str) -> str:
    "`src` without comments and directives (so a name mentioned only in a comment is not a use); the source itself when it does not tokenize."
    try: toks = list(tokenize.generate_tokens(io.StringIO(src).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError): return src
    return ' '.join(t.string for t in toks if t.type != tokenize.COMMENT)

def _public_defs(src: str) -> list[str]:
    try: tree = ast.parse(re.sub(r'^\s*[#!%].*$', '', src, flags=re.M))
    except SyntaxError: return []
    return [d.name for d in tree.body if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not d.name.startswith('_')]

def problems(cells: list[dict]) -> list[str]:
    "'NAME' for each public name of an exported cell that no later non-exported code cell uses; 'cell ID' for each exported cell over MAX_LINES."
    out = []
    for i, c in enumerate(cells):
        if not _is_export(c): continue
        if len(_src(c).splitlines()) > MAX_LINES: out.append(f"cell {c.get('id')}")
        later = ' '.join(_code_only(_src(x)) for x in cells[i+1:] if x['cell_type'] == 'code' and not _is_export(x))
        out += [n for n in _public_defs(_src(c)) if not re.search(rf'\b{re.escape(n)}\b', later)]
    return out

def _all_problems() -> set[tuple[str, str]]:
    return {(p.stem, x) for p in sorted((ROOT/'nbs').glob('*.ipynb')) for x in problems(json.loads(p.read_text())['cells'])}

def _cell(kind, src, cid='x'): return {'cell_type': kind, 'id': cid, 'source': src}

def test_problems_finds_what_a_reader_misses():
    long_body = '\n'.join(f'    x{i} = {i}' for i in range(MAX_LINES))
    cells = [_cell('code', '#| export\ndef shown(x): return x\n\ndef unshown(): pass\n\nclass Report: pass\n\ndef _private(): pass'),
             _cell('code', 'test_eq(shown(1), 1)  # unshown() in a comment does not count\nReport'),
             _cell('code', f'#| export\ndef long_one():\n{long_body}', 'c9'),
             _cell('markdown', 'long_one is only named in prose'),
             _cell('code', '#| hide\nimport nbdev; nbdev.nbdev_export()')]
    assert problems(cells) == ['unshown', 'cell c9', 'long_one']

def test_every_export_is_shown_and_short():
    "Each public name used below its definition, each exported cell at most MAX_LINES lines."
    missing = sorted(_all_problems())
    assert not missing, ('add an example or a test under each of these names, or split these cells with prose between '
                         f'(notebook, name or cell): {missing}')
