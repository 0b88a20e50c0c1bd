"""Source trees: where the targets' modules live, path <-> module name, and what is never source.

These are the import system's and grimp's naming rules applied to the file
system; nothing here imports or executes the code it names.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from staticreload.exceptions import PackageNotFoundError

__all__ = [
    "IGNORED_DIRS",
    "ModuleSource",
    "SourceTree",
    "discover",
    "is_ignored",
    "is_module_file",
    "is_skipped_dir",
    "module_for_path",
    "module_source",
    "resolve_targets",
    "tree_members",
]

# Folder names whose files are never the project's own source.
IGNORED_DIRS = frozenset({"__pycache__", "site-packages", "node_modules", "venv", "env"})


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

    @property
    def folder(self) -> Path:
        """The folder to watch for this tree: the package's own, else the root."""
        if self.top is not None and (self.root / self.top).is_dir():
            return self.root / self.top
        return self.root


@dataclass(frozen=True)
class ModuleSource:
    """A module's file. ``is_package`` is True for an ``__init__.py``."""

    path: Path
    is_package: bool


def is_skipped_dir(name: str) -> bool:
    """grimp's rule: a folder whose name is not an identifier is no package."""
    return not name.isidentifier()


def is_module_file(name: str) -> bool:
    """grimp's rule: ``*.py`` with no other dot (``0001_initial.py`` counts)."""
    return name.endswith(".py") and name.count(".") == 1 and len(name) > 3


def is_ignored(path: str | os.PathLike[str], folder: Path) -> bool:
    """Whether a path under a watched folder is not the project's Python source.

    Ignored: anything outside ``folder``, below a hidden folder, ``__pycache__``,
    a virtual environment or ``site-packages`` (counted from ``folder`` down), and
    files with a suffix other than ``.py``. Folders pass, because deleting or
    moving one changes the modules inside it. Paths are compared by their parts,
    never as strings (``website`` is not inside ``web``).
    """
    try:
        parts = Path(path).relative_to(folder).parts
    except ValueError:
        return True
    if any(part.startswith(".") or part in IGNORED_DIRS for part in parts):
        return True
    name = parts[-1] if parts else ""
    return "." in name and not name.endswith(".py")


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
            if (directory / "__init__.py").is_file() or _is_namespace_name(target, directory):
                trees.append(SourceTree(directory.parent, directory.name))
            else:
                trees.append(SourceTree(directory))
        else:
            trees.append(_find_top_level(str(target), root))
    return trees


def _is_namespace_name(target: str | os.PathLike[str], directory: Path) -> bool:
    """Whether a target names a namespace package (PEP 420) rather than a folder of packages.

    It must be given as a name (an identifier, not a path), and the folder
    holds no regular package directly (``src``-style folders do).
    """
    if not isinstance(target, str) or not target.isidentifier():
        return False
    return not any((child / "__init__.py").is_file() for child in directory.iterdir())


def _find_top_level(name: str, root: Path | None) -> SourceTree:
    """Find a top-level module without importing it: in ``root`` first, then ``sys.path``.

    ``PathFinder.find_spec(name, [root])`` searches one folder the way the import
    system would, so ``sys.path`` itself is never changed.
    """
    if not name.isidentifier():
        raise PackageNotFoundError(name)
    spec = None
    try:
        if root is not None:
            spec = importlib.machinery.PathFinder.find_spec(name, [os.fspath(root)])
        if spec is None:
            spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise PackageNotFoundError(name)
    if spec.origin is None and spec.submodule_search_locations:
        # A namespace package (PEP 420): a folder without __init__.py.
        return SourceTree(Path(next(iter(spec.submodule_search_locations))).resolve().parent, name)
    if spec.origin is None or not spec.has_location:
        raise PackageNotFoundError(name)
    origin = Path(spec.origin).resolve()
    if origin.suffix != ".py":
        raise PackageNotFoundError(name)
    top_dir = origin.parent if spec.submodule_search_locations is not None else origin
    return SourceTree(top_dir.parent, name)


def discover(root: Path) -> list[SourceTree]:
    """The source tree of every package and loose module directly inside ``root``."""
    return [SourceTree(root.resolve())]


def module_source(root: Path, module: str) -> ModuleSource:
    """The file of a module found under ``root``: ``a/b.py`` or ``a/b/__init__.py``."""
    base = os.path.join(root, *module.split("."))
    if os.path.isfile(base + ".py"):
        return ModuleSource(Path(base + ".py"), is_package=False)
    return ModuleSource(Path(base, "__init__.py"), is_package=True)


def tree_members(tree: SourceTree) -> tuple[list[str], dict[str, ModuleSource]]:
    """The packages (for grimp) and loose top-level modules (for ``ast``) of one tree."""
    if tree.top is not None:
        if (tree.root / tree.top).is_dir():  # a package, or a namespace package
            return [tree.top], {}
        return [], {tree.top: ModuleSource(tree.root / f"{tree.top}.py", is_package=False)}
    packages, loose = [], {}
    for entry in sorted(os.scandir(tree.root), key=lambda e: e.name):
        if entry.is_dir() and not is_skipped_dir(entry.name):
            if os.path.isfile(os.path.join(entry.path, "__init__.py")):
                packages.append(entry.name)
        elif entry.is_file() and is_module_file(entry.name):
            loose[entry.name[:-3]] = ModuleSource(Path(entry.path), is_package=False)
    return packages, loose


def module_for_path(path: Path, trees: Sequence[SourceTree]) -> tuple[str, bool] | None:
    """The module a source file would be imported as, from the file system's state.

    Args:
        path: an absolute, resolved path.
        trees: the source trees of the map.

    Returns:
        ``(module name, is_package)``, or None if the file is not a module of the
        trees (outside them, not ``.py``, or in a folder without ``__init__.py``).
    """
    if not is_module_file(path.name):
        return None
    for tree in trees:
        if not tree.contains(path):
            continue
        parts = list(path.relative_to(tree.root).parts)
        folders = parts[:-1]
        if any(is_skipped_dir(folder) for folder in folders):
            return None
        if not _importable_folders(tree, folders):
            return None
        if parts[-1] == "__init__.py":
            return (".".join(folders), True) if folders else None
        return ".".join([*folders, parts[-1][:-3]]), False
    return None


def _importable_folders(tree: SourceTree, folders: Sequence[str]) -> bool:
    """Whether files in these nested folders are modules, by grimp's rules.

    Folders without ``__init__.py`` are namespace packages (PEP 420) until
    the first regular package; below a regular package every folder needs
    an ``__init__.py`` (grimp leaves such orphans out). A tree of several
    top-level packages (``top`` None) has regular packages only.
    """
    in_package = tree.top is None
    for depth in range(1, len(folders) + 1):
        has_init = (tree.root.joinpath(*folders[:depth]) / "__init__.py").is_file()
        if in_package and not has_init:
            return False
        in_package = in_package or has_init
    return True
