"""The seams hold: the desk never imports the gateway, and never names a channel."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDOFF = ROOT / "handoff"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_desk_never_imports_the_gateway() -> None:
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in _imports(p) if m == "bot" or m.startswith("bot."))
                 for p in HANDOFF.rglob("*.py")}
    assert {p: m for p, m in offenders.items() if m} == {}


def _code_without_comments(path: Path) -> str:
    """The file's Python tokens without comments and docstrings (docs may name an example)."""
    kept: list[str] = []
    previous = tokenize.INDENT
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if token.type == tokenize.COMMENT:
            continue
        is_docstring = token.type == tokenize.STRING and previous in (tokenize.INDENT, tokenize.NEWLINE, tokenize.DEDENT)
        if not is_docstring:
            kept.append(token.string)
        if token.type not in (tokenize.NL, tokenize.COMMENT):
            previous = token.type
    return " ".join(kept)


def test_the_desk_names_no_channel() -> None:
    channel = re.compile(r"whatsapp|twilio", re.IGNORECASE)
    python = {str(p.relative_to(ROOT)) for p in HANDOFF.rglob("*.py") if channel.search(_code_without_comments(p))}
    scripts = {str(p.relative_to(ROOT)) for p in HANDOFF.rglob("*.js")
               if channel.search(re.sub(r"//[^\n]*|/\*.*?\*/", "", p.read_text(), flags=re.S))}
    assert python | scripts == set()
