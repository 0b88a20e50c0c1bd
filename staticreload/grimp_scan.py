"""The package scan with grimp: the only module that imports grimp.

grimp reads source text; nothing scanned is imported or executed. grimp finds
a package's folder with the import system's finders; here its package finder
is given the folders the targets were found in, so ``sys.path`` is never
changed.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import grimp
import grimp.exceptions
from grimp.adaptors.filesystem import FileSystem
from grimp.adaptors.packagefinder import ImportLibPackageFinder
from grimp.application.config import settings as grimp_settings
from grimp.application.ports.filesystem import AbstractFileSystem

from staticreload.ast_scan import parent_names
from staticreload.exceptions import PackageNotFoundError, SourceSyntaxError
from staticreload.graph import FUNCTION_SCOPE, MODULE_SCOPE, ImportLine, Scope
from staticreload.sources import ModuleSource, module_source

__all__ = ["PackageScan", "scan_packages"]

logger = logging.getLogger(__name__)

# grimp's settings are process-wide: one scan at a time swaps its adaptors.
_settings_lock = threading.Lock()


class PackageScan(NamedTuple):
    """What :func:`scan_packages` found.

    Attributes:
        modules: each module of the packages with its file.
        imports: importer -> imported module -> the import statements, each
            with the scope it runs in.
        unparsed: files left out because they cannot be parsed -> why.
    """

    modules: dict[str, ModuleSource]
    imports: dict[str, dict[str, list[ImportLine]]]
    unparsed: dict[Path, SourceSyntaxError]


class _ScanFileSystem(FileSystem):
    """grimp's file system, leaving out unparsable files and symlinked folders seen before.

    grimp stops at the first file it cannot parse; a scratch file or a
    Python 2 file that nothing imports must not stop the map, so the scan is
    run again without it. A dangling symlink is no file at all.
    ``os.walk(followlinks=True)`` never ends in a symlink loop; each real
    folder is walked once here.
    """

    def __init__(self, skipped: Collection[str]) -> None:
        self._skipped = skipped

    def walk(self, directory_name: str) -> Iterator[tuple[str, list[str], list[str]]]:
        seen: set[str] = set()
        for folder, dirs, files in os.walk(directory_name, followlinks=True):
            seen.add(os.path.realpath(folder))
            dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(folder, d)) not in seen]
            files = [
                f
                for f in files
                if os.path.join(folder, f) not in self._skipped
                and os.path.exists(os.path.join(folder, f))  # not a dangling symlink
            ]
            yield folder, dirs, files


class _KnownRootsPackageFinder(ImportLibPackageFinder):
    """grimp's package finder, told where the targets' packages are.

    Packages in ``roots`` are answered from there; any other name (an external
    package grimp asks about) goes to grimp's own finder.
    """

    def __init__(self, roots: Mapping[str, Path]) -> None:
        self._roots = dict(roots)

    def determine_package_directories(
        self, package_name: str, file_system: AbstractFileSystem
    ) -> set[str]:
        root = self._roots.get(package_name)
        if root is not None:
            return {str(root / package_name)}
        found: set[str] = super().determine_package_directories(package_name, file_system)
        return found


def scan_packages(
    package_roots: Mapping[str, Path],
    *,
    loose_modules: Collection[str] = (),
    exclude_type_checking: bool,
) -> PackageScan:
    """Scan packages with grimp (without its cache: it can go stale across edits).

    Args:
        package_roots: top-level package name -> the folder it is in.
        loose_modules: top-level modules beside the packages, scanned
            elsewhere; imports of them are kept (grimp reports them as external).
        exclude_type_checking: leave out imports under ``if TYPE_CHECKING:``.

    Returns:
        The modules, the imports between them (imports of ``loose_modules``
        included), and the files left out because they cannot be parsed (each
        logged as a warning).

    Raises:
        PackageNotFoundError: grimp cannot find a package.
    """
    unparsed: dict[Path, SourceSyntaxError] = {}
    while True:
        try:
            graph = _build_graph(package_roots, loose_modules, exclude_type_checking, unparsed)
            break
        except grimp.exceptions.SourceSyntaxError as error:
            path = Path(error.filename)
            if path in unparsed:  # not left out after all: give up rather than loop
                raise unparsed[path] from error
            unparsed[path] = SourceSyntaxError(error.filename, error.lineno, "invalid syntax")
            logger.warning("left out of the map (cannot be parsed): %s", unparsed[path])
    modules = {
        module: source
        for module in graph.modules
        if (top := module.partition(".")[0]) in package_roots
        # a namespace package (a folder without __init__.py) has no file
        and (source := module_source(package_roots[top], module)).path.is_file()
    }
    imports = {
        importer: _imports_of(graph, importer, source, modules, loose_modules)
        for importer, source in modules.items()
    }
    return PackageScan(modules, imports, unparsed)


def _imports_of(
    graph: grimp.ImportGraph,
    importer: str,
    source: ModuleSource,
    modules: Collection[str],
    loose_modules: Collection[str],
) -> dict[str, list[ImportLine]]:
    """What one module imports, with each statement's line and scope."""
    lines: list[bytes] | None = None
    found: dict[str, list[ImportLine]] = {}
    for imported in graph.find_modules_directly_imported_by(importer):
        if imported == importer or (imported not in modules and imported not in loose_modules):
            continue
        if lines is None:
            lines = source.path.read_bytes().split(b"\n")
        for detail in graph.get_import_details(importer=importer, imported=imported):
            contents = detail["line_contents"]
            line = ImportLine(
                detail["line_number"], contents, _scope_at(lines, detail["line_number"])
            )
            found.setdefault(imported, []).append(line)
            # grimp has no edge to the parents that ``import a.b.c`` binds.
            for parent in parent_names(contents, imported):
                if parent in modules and parent != importer:
                    found.setdefault(parent, []).append(line)
    return found


def _build_graph(
    package_roots: Mapping[str, Path],
    loose_modules: Collection[str],
    exclude_type_checking: bool,
    unparsed: Collection[Path],
) -> grimp.ImportGraph:
    with _settings_lock:
        saved = grimp_settings.PACKAGE_FINDER, grimp_settings.FILE_SYSTEM
        grimp_settings.configure(
            PACKAGE_FINDER=_KnownRootsPackageFinder(package_roots),
            FILE_SYSTEM=_ScanFileSystem({os.fspath(path) for path in unparsed}),
        )
        try:
            return grimp.build_graph(
                *package_roots,
                include_external_packages=bool(loose_modules),
                exclude_type_checking_imports=exclude_type_checking,
                cache_dir=None,
            )
        except (ValueError, ModuleNotFoundError) as error:
            raise PackageNotFoundError(", ".join(package_roots)) from error
        except grimp.exceptions.GrimpException as error:
            if isinstance(error, grimp.exceptions.SourceSyntaxError):
                raise
            raise PackageNotFoundError(", ".join(package_roots)) from error
        finally:
            grimp_settings.configure(PACKAGE_FINDER=saved[0], FILE_SYSTEM=saved[1])


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
