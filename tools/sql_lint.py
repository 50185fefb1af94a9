"""SQL built from strings is refused: a stricter check than ruff's S608.

Every SQL text handed to the database must be a string literal (or a module constant holding one),
with values passed as bound parameters. The check reads the syntax tree of each module and reports:

- ``sqlalchemy.text(x)`` (however imported) and ``.exec_driver_sql(x)`` when ``x`` is anything but a
  string literal or a module-level constant bound to one;
- ``bulk.select(session, x, ...)``, our own function that runs SQL text, likewise;
- ``.execute(x)``, ``.executemany(x)``, ``.executescript(x)`` and ``.copy(x)`` (raw DB-API and psycopg
  cursors) when ``x`` is built from strings: an f-string, ``%``, ``+``, ``.format()``, ``.replace()``,
  ``.join()``.

A line may carry ``# sql-lint: identifiers <reason>`` where only identifiers of our own schema are put
into the text (table and column names the platform itself chose, as in ``aedx.storage.bulk``); the
reason is required. Run: ``python tools/sql_lint.py src``; exits 1 when anything is found.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MARKER = re.compile(r"#\s*sql-lint:\s*identifiers\b(?P<reason>.*)$")
TEXT_MODULES = {"sqlalchemy", "sqlalchemy.sql", "sqlalchemy.sql.expression", "sqlalchemy.sql.elements"}
ALWAYS_LITERAL = {"exec_driver_sql"}  # methods whose first argument must be a literal
CURSOR_METHODS = {"execute", "executemany", "executescript", "copy"}  # refused when built from strings
STRING_BUILDERS = {"format", "format_map", "replace", "join"}
SQL_TAKERS = {"bulk.select": 1, "aedx.storage.bulk.select": 1}  # our own functions that run SQL text


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column + 1}: SQL001 {self.message}"


def _constants(tree: ast.Module) -> set[str]:
    """Module-level names bound exactly once, to a string literal."""
    bound: dict[str, int] = {}
    literal: set[str] = set()
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name):
                bound[target.id] = bound.get(target.id, 0) + 1
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    literal.add(target.id)
    # a name assigned anywhere else (in a function, a loop) is not a constant
    top = _top_targets(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node not in top:
            bound[node.id] = bound.get(node.id, 0) + 1
    return {name for name in literal if bound.get(name) == 1}


def _top_targets(tree: ast.Module) -> set[ast.AST]:
    found: set[ast.AST] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            found.update(node.targets)
        elif isinstance(node, ast.AnnAssign):
            found.add(node.target)
    return found


def _text_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """The names ``sqlalchemy.text`` goes by in the module, and the names of the sqlalchemy modules."""
    functions: set[str] = set()
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in TEXT_MODULES:
            functions.update(a.asname or a.name for a in node.names if a.name == "text")
        elif isinstance(node, ast.Import):
            modules.update(a.asname or a.name for a in node.names if a.name in TEXT_MODULES)
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return functions - defined, modules


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _literal(node: ast.expr, constants: set[str]) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    return isinstance(node, ast.Name) and node.id in constants


def _built(node: ast.expr) -> str | None:
    """How the expression builds a string, when it does."""
    if isinstance(node, ast.JoinedStr):
        return "an f-string"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return "% formatting"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return "+ concatenation"
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in STRING_BUILDERS
    ):
        return f".{node.func.attr}()"
    return None


def _sql_argument(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    for keyword in call.keywords:
        if keyword.arg in ("text", "statement", "query", "sql", "operation"):
            return keyword.value
    return None


def _assigned(tree: ast.Module) -> dict[str, list[ast.expr]]:
    """Every value each name is assigned anywhere in the module (a conservative view of locals)."""
    values: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values.setdefault(target.id, []).append(node.value)
        elif (
            isinstance(node, (ast.AnnAssign, ast.AugAssign))
            and isinstance(node.target, ast.Name)
            and node.value is not None
        ):
            value = (
                node.value if isinstance(node, ast.AnnAssign) else ast.BinOp(node.target, node.op, node.value)
            )
            values.setdefault(node.target.id, []).append(value)
    return values


def _built_or_named(node: ast.expr, assigned: dict[str, list[ast.expr]]) -> str | None:
    how = _built(node)
    if how is None and isinstance(node, ast.Name):
        via = next((h for v in assigned.get(node.id, []) if (h := _built(v))), None)
        how = f"{via} (through {node.id})" if via else None
    return how


def _findings(tree: ast.Module) -> Iterator[tuple[ast.Call, str]]:
    constants = _constants(tree)
    assigned = _assigned(tree)
    functions, modules = _text_names(tree)
    texts = functions | {f"{m}.text" for m in modules}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name in SQL_TAKERS:
            position = SQL_TAKERS[name]
            if len(node.args) > position and not _literal(node.args[position], constants):
                how = _built_or_named(node.args[position], assigned) or "a value that is not a string literal"
                yield node, f"{name}() is given SQL built from {how}; use a literal and bind values"
            continue
        sql = _sql_argument(node)
        if sql is None:
            continue
        method = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if name in texts or method in ALWAYS_LITERAL:
            if not _literal(sql, constants):
                how = _built_or_named(sql, assigned) or "a value that is not a string literal"
                yield node, f"{name or method}() is given SQL built from {how}; use a literal and bind values"
        elif method in CURSOR_METHODS:
            how = _built_or_named(sql, assigned)
            if how:
                yield node, f".{method}() is given SQL built from {how}; use a literal and bind values"


def check_source(source: str, path: str = "<string>") -> list[Problem]:
    """The problems in one module's source."""
    tree = ast.parse(source, path)
    lines = source.splitlines()
    problems = []
    for call, message in _findings(tree):
        span = lines[call.lineno - 1 : (call.end_lineno or call.lineno)]
        markers = [m for m in (MARKER.search(line) for line in span) if m]
        if markers:
            if all(len(m.group("reason").strip(" -—:")) >= 3 for m in markers):
                continue
            message = "the sql-lint: identifiers marker needs a reason"
        problems.append(Problem(path, call.lineno, call.col_offset, message))
    return sorted(problems, key=lambda p: (p.line, p.column))


def _files(paths: Iterable[str]) -> Iterator[Path]:
    for given in paths:
        root = Path(given)
        yield from sorted(root.rglob("*.py")) if root.is_dir() else [root]


def main(argv: list[str] | None = None) -> int:
    paths = (sys.argv[1:] if argv is None else argv) or ["src"]
    problems = [p for f in _files(paths) for p in check_source(f.read_text(encoding="utf-8"), str(f))]
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} SQL text(s) built from strings", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
