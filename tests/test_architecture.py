"""The seams hold: who may import whom (core ← handoff ← bot; channels and actions never the desk),
no import cycle between modules, and the desk never names a channel."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDOFF = ROOT / "handoff"
PACKAGES = ("core", "bot", "handoff", "actions", "db")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> set[str]:
    """Every module the file imports, at any depth (a lazy import inside a function counts too)."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import module` imports that module; `from module import name`, the module
            submodules = {a.name for a in node.names if _is_module(f"{node.module}.{a.name}")}
            names |= {f"{node.module}.{name}" for name in submodules}
            if len(submodules) < len(node.names):
                names.add(node.module)
    return names


def _offenders(packages: tuple[str, ...], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for path in _sources(*packages):
        bad = sorted(m for m in _imports(path) if any(m == f or m.startswith(f + ".") for f in forbidden))
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    return found


def test_core_imports_neither_side() -> None:
    assert _offenders(("core",), ("bot", "handoff", "actions")) == {}


def test_the_desk_never_imports_the_gateway() -> None:
    assert _offenders(("handoff",), ("bot", "actions")) == {}


def test_channels_and_actions_never_import_the_desk() -> None:
    assert _offenders(("bot/channels", "actions"), ("handoff",)) == {}


def test_actions_never_import_the_gateway() -> None:
    assert _offenders(("actions",), ("bot",)) == {}


def test_the_desk_rooms_are_layered() -> None:
    """queue ← work ← web, reports beside work: a room imports only the rooms below it."""
    assert _offenders(("handoff/queue",), ("handoff.work", "handoff.web", "handoff.reports")) == {}
    assert _offenders(("handoff/work",), ("handoff.web",)) == {}
    assert _offenders(("handoff/reports",), ("handoff.work", "handoff.web")) == {}
    # what work records for the reports is named by the reports' keys, and nothing else of theirs
    reports_used = {m for p in _sources("handoff/work") for m in _imports(p) if m.startswith("handoff.reports")}
    assert reports_used <= {"handoff.reports", "handoff.reports.keys"}


def test_the_desks_shared_modules_import_no_room() -> None:
    rooms = ("handoff.queue", "handoff.work", "handoff.web", "handoff.reports")
    shared = {str(p.relative_to(ROOT)): sorted(m for m in _imports(p) if m.startswith(rooms))
              for p in (HANDOFF / "config.py", HANDOFF / "labels.py")}
    assert {p: m for p, m in shared.items() if m} == {}


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in _sources(*PACKAGES)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {m for m in _imports(path) if m in modules and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle() -> None:
    assert _cycle(_graph()) is None


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


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
