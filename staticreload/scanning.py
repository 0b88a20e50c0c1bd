"""Static import scanning: grimp for packages, ``ast`` for loose modules and single files.

This is the only module that imports grimp. It never imports or executes the
code it scans: grimp and ``ast`` read source text, and finding a top-level
package with :func:`importlib.util.find_spec` does not run it.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import os
import sys
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grimp
import grimp.exceptions

from staticreload.exceptions import PackageNotFoundError, SourceSyntaxError
from staticreload.graph import FUNCTION_SCOPE, MODULE_SCOPE, ImportLine, Scope

__all__ = [
    "ModuleSource",
    "Scan",
    "SourceTree",
    "discover",
    "module_for_path",
    "resolve_targets",
    "scan_file",
    "scan_trees",
]


@dataclass(frozen=True)
class SourceTree:
    """Where a target's modules live.

    Attributes:
        root: the ``sys.path`` entry the modules are imported from.
        top: the top-level package or module name, or None for every package and
            loose module directly inside ``root``.
    """

    root: Path
    top: str | None = None

    def contains(self, path: Path) -> bool:
        """Whether ``path`` (absolute, resolved) lies inside this tree."""
        try:
            relative = path.relative_to(self.root)
        except ValueError:
            return False
        if self.top is None:
            return True
        first = relative.parts[0] if relative.parts else ""
        return first in (self.top, f"{self.top}.py")


@dataclass(frozen=True)
class ModuleSource:
    """A module's file. ``is_package`` is True for an ``__init__.py``."""

    path: Path
    is_package: bool


@dataclass
class Scan:
    """The result of a scan: modules with their files, and who imports what."""

    modules: dict[str, ModuleSource] = field(default_factory=dict)
    imports: dict[str, dict[str, list[ImportLine]]] = field(default_factory=dict)


def _is_skipped_dir(name: str) -> bool:
    """grimp's rule: a folder whose name is not an identifier is no package."""
    return not name.isidentifier()


def _is_module_file(name: str) -> bool:
    """grimp's rule: ``*.py`` with no other dot (``0001_initial.py`` counts)."""
    return name.endswith(".py") and name.count(".") == 1 and len(name) > 3


def resolve_targets(
    targets: Sequence[str | os.PathLike[str]], root: Path | None
) -> list[SourceTree]:
    """Turn scan targets into source trees.

    Args:
        targets: importable top-level package or module names, or directories. A
            directory with an ``__init__.py`` is a package; one without is a folder
            of packages and loose top-level modules.
        root: a directory to search for named packages before ``sys.path``.

    Returns:
        One source tree per target.

    Raises:
        PackageNotFoundError: a target is neither a directory nor importable.
    """
    trees = []
    for target in targets:
        directory = Path(target) if root is None else root / target
        if directory.is_dir():
            directory = directory.resolve()
            if (directory / "__init__.py").is_file():
                trees.append(SourceTree(directory.parent, directory.name))
            else:
                trees.append(SourceTree(directory))
        else:
            trees.append(_find_top_level(str(target), root))
    return trees


def _find_top_level(name: str, root: Path | None) -> SourceTree:
    if not name.isidentifier():
        raise PackageNotFoundError(name)
    with _on_sys_path([root] if root is not None else []):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
    if spec is None or spec.origin is None or not spec.has_location:
        raise PackageNotFoundError(name)
    origin = Path(spec.origin).resolve()
    if origin.suffix != ".py":
        raise PackageNotFoundError(name)
    top_dir = origin.parent if spec.submodule_search_locations is not None else origin
    return SourceTree(top_dir.parent, name)


def discover(root: Path) -> list[SourceTree]:
    """The source tree of every package and loose module directly inside ``root``."""
    return [SourceTree(root.resolve())]


@contextlib.contextmanager
def _on_sys_path(entries: Iterable[Path]) -> Iterator[None]:
    saved = list(sys.path)
    sys.path[:0] = [str(entry) for entry in entries]
    try:
        yield
    finally:
        sys.path[:] = saved


def _module_source(root: Path, module: str) -> ModuleSource:
    """The file of a module grimp found under ``root``: ``a/b.py`` or ``a/b/__init__.py``."""
    base = os.path.join(root, *module.split("."))
    if os.path.isfile(base + ".py"):
        return ModuleSource(Path(base + ".py"), is_package=False)
    return ModuleSource(Path(base, "__init__.py"), is_package=True)


def _tree_members(tree: SourceTree) -> tuple[list[str], dict[str, ModuleSource]]:
    """The packages (for grimp) and loose modules (for ast) of one tree."""
    if tree.top is not None:
        if (tree.root / tree.top / "__init__.py").is_file():
            return [tree.top], {}
        return [], {tree.top: ModuleSource(tree.root / f"{tree.top}.py", is_package=False)}
    packages, loose = [], {}
    for entry in sorted(os.scandir(tree.root), key=lambda e: e.name):
        if entry.is_dir() and not _is_skipped_dir(entry.name):
            if os.path.isfile(os.path.join(entry.path, "__init__.py")):
                packages.append(entry.name)
        elif entry.is_file() and _is_module_file(entry.name):
            loose[entry.name[:-3]] = ModuleSource(Path(entry.path), is_package=False)
    return packages, loose


def scan_trees(trees: Sequence[SourceTree], *, exclude_type_checking: bool) -> Scan:
    """Scan every module of the trees.

    Packages are scanned by grimp (without its cache: its metadata can go stale
    across edits and it would write a cache folder into the project). Loose
    top-level modules, which grimp refuses, are scanned with ``ast``. Imports
    between the two are kept in both directions.

    Args:
        trees: where the modules are.
        exclude_type_checking: leave out imports under ``if TYPE_CHECKING:``.

    Returns:
        The modules with their files, and the imports between them.

    Raises:
        SourceSyntaxError: a file cannot be parsed.
        PackageNotFoundError: grimp cannot find a package.
    """
    scan = Scan()
    package_roots: dict[str, Path] = {}
    for tree in trees:
        tree_packages, loose = _tree_members(tree)
        package_roots.update(dict.fromkeys(tree_packages, tree.root))
        scan.modules.update(loose)
    loose_modules = set(scan.modules)
    if package_roots:
        _scan_packages(scan, package_roots, loose_modules, exclude_type_checking)
    for module in sorted(loose_modules):
        source = scan.modules[module]
        raw = scan_file(
            source.path, module, is_package=False, exclude_type_checking=exclude_type_checking
        )
        scan.imports[module] = resolve_imports(raw, scan.modules)
    return scan


def _scan_packages(
    scan: Scan,
    package_roots: dict[str, Path],
    loose_modules: set[str],
    exclude_type_checking: bool,
) -> None:
    with _on_sys_path(dict.fromkeys(package_roots.values())):
        try:
            imports = grimp.build_graph(
                *package_roots,
                include_external_packages=bool(loose_modules),
                exclude_type_checking_imports=exclude_type_checking,
                cache_dir=None,
            )
        except grimp.exceptions.SourceSyntaxError as error:
            raise SourceSyntaxError(error.filename, error.lineno, "invalid syntax") from error
        except (ValueError, ModuleNotFoundError, grimp.exceptions.GrimpException) as error:
            raise PackageNotFoundError(", ".join(package_roots)) from error
    for module in imports.modules:
        top = module.partition(".")[0]
        if top in package_roots:
            scan.modules[module] = _module_source(package_roots[top], module)
    for importer, source in scan.modules.items():
        if importer in loose_modules:
            continue
        lines: list[bytes] | None = None
        found: dict[str, list[ImportLine]] = {}
        for imported in imports.find_modules_directly_imported_by(importer):
            if imported not in scan.modules or imported == importer:
                continue
            if lines is None:
                lines = source.path.read_bytes().split(b"\n")
            found[imported] = [
                ImportLine(
                    detail["line_number"],
                    detail["line_contents"],
                    _scope_at(lines, detail["line_number"]),
                )
                for detail in imports.get_import_details(importer=importer, imported=imported)
            ]
        scan.imports[importer] = found


def _scope_at(lines: list[bytes], line_number: int) -> Scope:
    """Whether the statement at ``line_number`` runs at import time, by its indentation.

    grimp gives line numbers but not scopes, and parsing every file with ``ast``
    would cost several times grimp's own scan. Instead, walk up from the line to
    each enclosing, less indented line: a ``def``/``async def`` among them means
    function scope; an unindented statement is module scope at once. Lines that
    close a bracket (the ``):`` of a long ``def`` header) are skipped. (A
    multi-line string whose text starts left of the statement can still mislead
    this; :func:`scan_file`, used for single files, is exact.)
    """
    index = line_number - 1
    if index >= len(lines):
        return MODULE_SCOPE
    indent = _indentation(lines[index])
    while indent > 0 and index > 0:
        index -= 1
        text = lines[index]
        stripped = text.lstrip()
        if (
            not stripped
            or stripped.startswith((b"#", b")", b"]", b"}"))  # comments, ends of brackets
            or _indentation(text) >= indent
        ):
            continue
        indent = _indentation(text)
        if stripped.startswith((b"def ", b"async def ")):
            return FUNCTION_SCOPE
    return MODULE_SCOPE


def _indentation(line: bytes) -> int:
    return len(line) - len(line.lstrip())


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
    except (SyntaxError, ValueError) as error:
        lineno = error.lineno if isinstance(error, SyntaxError) else None
        reason = error.msg if isinstance(error, SyntaxError) else str(error)
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
        return [alias.name for alias in node.names]
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


def module_for_path(path: Path, trees: Sequence[SourceTree]) -> tuple[str, bool] | None:
    """The module a source file would be imported as, from the file system's state.

    Args:
        path: an absolute, resolved path.
        trees: the source trees of the map.

    Returns:
        ``(module name, is_package)``, or None if the file is not a module of the
        trees (outside them, not ``.py``, or in a folder without ``__init__.py``).
    """
    if not _is_module_file(path.name):
        return None
    for tree in trees:
        if not tree.contains(path):
            continue
        parts = list(path.relative_to(tree.root).parts)
        folders = parts[:-1]
        if any(_is_skipped_dir(folder) for folder in folders):
            return None
        for depth in range(1, len(folders) + 1):
            if not (tree.root.joinpath(*folders[:depth]) / "__init__.py").is_file():
                return None
        if parts[-1] == "__init__.py":
            return (".".join(folders), True) if folders else None
        return ".".join([*folders, parts[-1][:-3]]), False
    return None
