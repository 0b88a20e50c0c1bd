"""Single-file import scan with ``ast``: exact scopes, relative imports, ``TYPE_CHECKING``.

Used for loose top-level modules (which grimp refuses) and for every file
that changes while the reloader runs, so an update costs one file's parse.
Nothing scanned is imported or executed.
"""

from __future__ import annotations

import ast
from collections.abc import Container, Iterable
from dataclasses import dataclass
from pathlib import Path

from staticreload.exceptions import SourceSyntaxError, describe
from staticreload.graph import FUNCTION_SCOPE, MODULE_SCOPE, ImportLine, Scope

__all__ = ["RawImport", "parent_names", "resolve", "resolve_imports", "scan_file"]


@dataclass(frozen=True)
class RawImport:
    """An import statement before it is matched to the map's modules.

    ``candidate`` is the dotted name it asks for: ``a.b`` for ``import a.b``,
    ``a.b.c`` for ``from a.b import c`` (``c`` may be a module or a name in ``a.b``).
    """

    candidate: str
    line: ImportLine


def scan_file(
    path: Path, module: str, *, is_package: bool, exclude_type_checking: bool
) -> list[RawImport]:
    """The import statements of one file, found with ``ast``.

    Args:
        path: the source file.
        module: its module name (relative imports are resolved against it).
        is_package: True for a package's ``__init__.py``.
        exclude_type_checking: leave out imports under ``if TYPE_CHECKING:``.

    Returns:
        The imports in source order.

    Raises:
        SourceSyntaxError: the file cannot be read or parsed.
        OSError: the file cannot be read.
    """
    source = path.read_bytes()
    try:
        tree = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        # RecursionError and MemoryError: the parser's limits on deeply nested code.
        lineno = error.lineno if isinstance(error, SyntaxError) else None
        reason = error.msg if isinstance(error, SyntaxError) else describe(error)
        raise SourceSyntaxError(str(path), lineno, reason) from error
    lines = source.decode("utf-8", "replace").splitlines()
    package = module if is_package else module.rpartition(".")[0]
    found: list[RawImport] = []
    # Import statements live only in statement lists, so walk those alone,
    # without a stack depth that grows with nested expressions.
    pending: list[tuple[ast.AST, Scope]] = [(tree, MODULE_SCOPE)]
    while pending:
        node, scope = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            contents = lines[node.lineno - 1].strip() if node.lineno <= len(lines) else ""
            line = ImportLine(node.lineno, contents, scope)
            found.extend(RawImport(candidate, line) for candidate in _candidates(node, package))
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scope = FUNCTION_SCOPE
        children: list[ast.AST] = []
        for field_name in ("body", "handlers", "orelse", "finalbody", "cases"):
            children.extend(getattr(node, field_name, ()))
        if exclude_type_checking and isinstance(node, ast.If) and _is_type_checking(node.test):
            children = list(node.orelse)
        pending.extend((child, scope) for child in reversed(children))
    return found


def _candidates(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """The dotted names an import statement asks for (see :class:`RawImport`)."""
    if isinstance(node, ast.Import):
        # ``import a.b.c`` binds ``a`` and reads ``a.b.c`` through it: it depends
        # on the package objects ``a`` and ``a.b`` too (``as`` binds ``c`` only).
        return [
            name
            for alias in node.names
            for name in ([alias.name] if alias.asname else _with_parents(alias.name))
        ]
    base = node.module or ""
    if node.level:
        parts = package.split(".") if package else []
        if node.level - 1 > len(parts):
            return []
        anchor = parts[: len(parts) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    if not base:
        return []
    return [base if alias.name == "*" else f"{base}.{alias.name}" for alias in node.names]


def _with_parents(name: str) -> list[str]:
    """``a.b.c`` -> ``["a.b.c", "a.b", "a"]``."""
    parts = name.split(".")
    return [".".join(parts[:depth]) for depth in range(len(parts), 0, -1)]


def parent_names(line_contents: str, imported: str) -> list[str]:
    """The parent packages an import line binds besides ``imported`` itself.

    ``import a.b.c`` (no ``as``) binds ``a``: ``["a.b", "a"]``; any other
    statement, nothing. A line that does not parse on its own (a ``\\``
    continuation) is taken to bind them, which only makes the closure larger.
    """
    parents = _with_parents(imported)[1:]
    if not line_contents.startswith("import ") or not parents:
        return []
    try:
        tree = ast.parse(line_contents)
    except SyntaxError:
        return parents
    statement = tree.body[0] if tree.body else None
    if not isinstance(statement, ast.Import):
        return []
    bound = any(alias.name == imported and alias.asname is None for alias in statement.names)
    return parents if bound else []


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def resolve(candidate: str, modules: Container[str]) -> str | None:
    """Match an import's dotted name to a module, as grimp does.

    The name itself if it is a module; else its parent if that is a module (the
    statement imports a name from it); else None (a module outside the map).
    """
    if candidate in modules:
        return candidate
    parent = candidate.rpartition(".")[0]
    return parent if parent in modules else None


def resolve_imports(
    raw: Iterable[RawImport], modules: Container[str]
) -> dict[str, list[ImportLine]]:
    """Group raw imports by the module each resolves to, dropping unresolved ones."""
    found: dict[str, list[ImportLine]] = {}
    for item in raw:
        imported = resolve(item.candidate, modules)
        if imported is not None:
            found.setdefault(imported, []).append(item.line)
    return found
