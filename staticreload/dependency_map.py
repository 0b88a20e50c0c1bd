"""``DependencyMap``: the project's import graph, scanned from source, kept up to date per file."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

import networkx as nx

from staticreload import graph as graphs
from staticreload import sources
from staticreload.ast_scan import resolve_imports, scan_file
from staticreload.exceptions import NotInMapError, SourceSyntaxError
from staticreload.graph import ImportLine
from staticreload.grimp_scan import PackageScan, scan_packages

__all__ = ["DependencyMap"]

logger = logging.getLogger(__name__)

PathOrModule = str | os.PathLike[str]


class DependencyMap:
    """The import graph of a project: which module imports which.

    Built by a static scan (grimp for packages, ``ast`` for loose modules): no
    analysed code is imported or executed. Edges point from importer to imported;
    see :mod:`staticreload.graph` for their attributes. Each node has ``path``
    (the absolute file) and ``is_package``.

    Parent packages: importing ``a.b.c`` runs ``a/__init__.py`` and
    ``a/b/__init__.py`` first, but like grimp the map adds no edge from ``a.b.c``
    to ``a`` or ``a.b``. An edge would put every submodule in the closure of an
    edit to its package's ``__init__.py``, although a submodule depends on its
    package's contents only when it imports from it, and then the scan finds
    that import. One statement does depend on the parents: ``import a.b.c``
    (without ``as``) binds the package ``a`` in the importer, so the importer
    gets edges to ``a`` and ``a.b`` too (unlike grimp), or it would keep the
    old package object after ``a`` is reloaded. The reloader deals with the
    import system's side of parents (submodules as attributes of their
    package) itself.
    """

    def __init__(
        self,
        graph: nx.DiGraph,
        trees: Iterable[sources.SourceTree],
        *,
        root: Path,
        exclude_type_checking: bool = True,
        unparsed: Mapping[Path, SourceSyntaxError] | None = None,
    ) -> None:
        """Wrap an already scanned graph; most callers want :meth:`build`."""
        self.graph = graph
        self.trees = tuple(trees)
        self.root = root
        self.exclude_type_checking = exclude_type_checking
        self._modules_by_path: dict[Path, str] = {
            data["path"]: node for node, data in graph.nodes(data=True)
        }
        self.unparsed: dict[Path, SourceSyntaxError] = dict(unparsed or {})
        # Importers of a module that was deleted: rescanned if it comes back.
        self._former_importers: dict[str, set[str]] = {}
        # Modules imported at run time before they existed (an ImportError
        # caught by ``try``): module -> importers, edges made when it appears.
        self._awaited: dict[str, set[str]] = {}

    @classmethod
    def build(
        cls,
        *targets: PathOrModule,
        root: PathOrModule | None = None,
        exclude_type_checking: bool = True,
    ) -> DependencyMap:
        """Scan the targets and build their map.

        Args:
            targets: importable top-level package or module names, or directories.
                A directory without ``__init__.py`` stands for every package and
                loose module in it. With no targets, the packages and loose
                modules directly inside ``root``.
            root: where to look for named packages first, and what file keys are
                relative to; defaults to the current directory.
            exclude_type_checking: leave out imports under ``if TYPE_CHECKING:``,
                which never run.

        Returns:
            The map. Files that cannot be parsed are left out of it, logged as
            warnings and listed in :attr:`unparsed`; they join the map when an
            edit makes them parsable (:meth:`update_file`).

        Raises:
            PackageNotFoundError: a target cannot be found.
        """
        base = Path(root).resolve() if root is not None else Path.cwd()
        if targets:
            trees = sources.resolve_targets(targets, base if root is not None else None)
        else:
            trees = sources.discover(base)
        scan = _scan_trees(trees, exclude_type_checking=exclude_type_checking)
        graph = graphs.new_graph(
            {
                module: {"path": source.path, "is_package": source.is_package}
                for module, source in scan.modules.items()
            },
            scan.imports,
        )
        return cls(
            graph,
            trees,
            root=base,
            exclude_type_checking=exclude_type_checking,
            unparsed=scan.unparsed,
        )

    # Queries

    @property
    def modules(self) -> list[str]:
        """Every module in the map, sorted by name."""
        return sorted(self.graph.nodes)

    def __contains__(self, module: object) -> bool:
        return module in self.graph

    def covers(self, name: str) -> bool:
        """Whether ``name`` is a module of the map or could become one: a
        submodule of one of its packages that has no file yet."""
        return name in self.graph or name.rpartition(".")[0] in self.graph

    def path_of(self, module: str) -> Path:
        """The file of ``module``.

        Raises:
            NotInMapError: the module is not in the map.
        """
        if module not in self.graph:
            raise NotInMapError(module)
        path: Path = self.graph.nodes[module]["path"]
        return path

    def module_of(self, path: PathOrModule) -> str | None:
        """The module whose file is ``path``, or None for a file outside the map."""
        return self._modules_by_path.get(Path(path).resolve())

    def dependents(self, module: str) -> set[str]:
        """Every module that imports ``module``, directly or not; itself excluded.

        Raises:
            NotInMapError: the module is not in the map.
        """
        self.path_of(module)
        return set(nx.ancestors(self.graph, module))

    def dependencies(self, module: str) -> set[str]:
        """Every module that ``module`` imports, directly or not; itself excluded.

        Raises:
            NotInMapError: the module is not in the map.
        """
        self.path_of(module)
        return set(nx.descendants(self.graph, module))

    def closure(
        self, paths_or_modules: Iterable[PathOrModule], *, import_time_only: bool = False
    ) -> set[str]:
        """The changed modules plus all their dependents.

        Args:
            paths_or_modules: module names or file paths, mixed as you like.
            import_time_only: follow only imports that run at import time
                (``scope == "module"``), not those inside functions.

        Returns:
            The affected modules.

        Raises:
            NotInMapError: an item is neither a module nor a file of the map.
        """
        return graphs.closure(
            self.graph,
            [self._as_module(item) for item in paths_or_modules],
            import_time_only=import_time_only,
        )

    def _as_module(self, item: PathOrModule) -> str:
        if isinstance(item, str) and item in self.graph:
            return item
        module = self.module_of(item)
        if module is None:
            raise NotInMapError(os.fspath(item))
        return module

    def to_dict(
        self,
        *,
        direction: Literal["dependencies", "dependents"] = "dependencies",
        keys: Literal["files", "modules"] = "files",
    ) -> dict[str, list[str]]:
        """The map as a plain dict of sorted lists, for JSON.

        Args:
            direction: ``"dependencies"`` lists what each module imports;
                ``"dependents"`` what imports it.
            keys: ``"files"`` for paths relative to the root (POSIX separators,
                absolute for files outside it), as ``tach map`` prints them;
                ``"modules"`` for dotted names.

        Returns:
            Every module a key, with an empty list where it has no neighbours.
        """
        key = None
        if keys == "files":
            key = {module: self.display_path(module) for module in self.graph}
        return graphs.adjacency(self.graph, direction=direction, key=key)

    def display_path(self, module: str) -> str:
        """The file of ``module`` relative to the root, or absolute if outside it."""
        path = self.path_of(module)
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    # Changes

    def update_file(self, path: PathOrModule) -> str:
        """Re-scan one changed, added or deleted file and update the map in place.

        The cost depends on the file and the modules that import its name, not on
        the size of the project: only this file is parsed, plus the importers
        whose imports now resolve differently (``from pkg import new`` pointed at
        ``pkg`` until ``pkg/new.py`` existed).

        Args:
            path: the file.

        Returns:
            The module the file is (or, if deleted, was).

        Raises:
            NotInMapError: the file is not, and cannot become, a module of the map.
            SourceSyntaxError: the file cannot be parsed; the map is unchanged.
        """
        resolved = Path(path).resolve()
        known = self._modules_by_path.get(resolved)
        found = sources.module_for_path(resolved, self.trees) if resolved.is_file() else None
        if found is None:
            if known is None:
                raise NotInMapError(os.fspath(path))
            self._remove(known)
            return known
        module, is_package = found
        if known is not None and known != module:
            self._remove(known)
        if module in self.graph and self.graph.nodes[module]["path"] != resolved:
            # The same name from another file: a.py turned into a/__init__.py.
            self._modules_by_path.pop(self.graph.nodes[module]["path"], None)
        imports = self._scan(resolved, module, is_package)
        self.unparsed.pop(resolved, None)
        is_new = module not in self.graph
        self.graph.add_node(module, path=resolved, is_package=is_package)
        self._modules_by_path[resolved] = module
        graphs.set_imports(self.graph, module, imports)
        if is_new:
            self._rescan(
                {*self._importers_naming(module), *self._former_importers.pop(module, ())}
                & set(self.graph)
            )
            for importer in self._awaited.pop(module, set()) & set(self.graph):
                graphs.add_runtime_import(self.graph, importer, module)
        return module

    def add_runtime_import(self, importer: str, imported: str) -> bool:
        """Record an import seen at run time that the static scan missed.

        An import of a module that does not exist yet (the optional-module
        idiom, ``try: import pkg.local_settings except ImportError: pass``) is
        remembered, and becomes an edge when a file for it is added.

        Returns:
            True if the map gained an edge; False if it had it, or either module
            is not in the map.
        """
        if importer in self.graph and imported not in self.graph:
            self._awaited.setdefault(imported, set()).add(importer)
        if importer not in self.graph or imported not in self.graph:
            return False
        return graphs.add_runtime_import(self.graph, importer, imported)

    def _scan(self, path: Path, module: str, is_package: bool) -> dict[str, list[ImportLine]]:
        raw = scan_file(
            path, module, is_package=is_package, exclude_type_checking=self.exclude_type_checking
        )
        return resolve_imports(raw, self.graph)

    def _remove(self, module: str) -> None:
        importers = set(self.graph.predecessors(module))
        self._former_importers.setdefault(module, set()).update(importers)
        self._modules_by_path.pop(self.graph.nodes[module]["path"], None)
        self.graph.remove_node(module)
        self._rescan(importers)

    def _importers_naming(self, module: str) -> list[str]:
        """Importers of ``module``'s parent whose import lines mention its last name."""
        parent, _, name = module.rpartition(".")
        if parent not in self.graph:
            return []
        return [
            importer
            for importer in self.graph.predecessors(parent)
            if any(
                name in contents or contents.endswith(("(", "\\"))
                for _, contents in self.graph.edges[importer, parent]["lines"]
            )
        ]

    def _rescan(self, importers: Iterable[str]) -> None:
        for importer in importers:
            data = self.graph.nodes[importer]
            try:
                imports = self._scan(data["path"], importer, data["is_package"])
            except (OSError, SourceSyntaxError):
                continue  # its own update will report it
            graphs.set_imports(self.graph, importer, imports)


def _scan_trees(trees: Iterable[sources.SourceTree], *, exclude_type_checking: bool) -> PackageScan:
    """Scan every module of the trees: packages with grimp, loose modules with ``ast``.

    grimp refuses loose top-level modules; imports between the two kinds are
    kept in both directions. Files that cannot be parsed are left out with a
    warning: a scratch file nothing imports must not stop the map (a module
    that imports one fails when it is imported, as in a fresh process).

    Raises:
        PackageNotFoundError: grimp cannot find a package.
    """
    package_roots: dict[str, Path] = {}
    loose: dict[str, sources.ModuleSource] = {}
    for tree in trees:
        tree_packages, tree_loose = sources.tree_members(tree)
        package_roots.update(dict.fromkeys(tree_packages, tree.root))
        loose.update(tree_loose)
    scan = PackageScan(dict(loose), {}, {})
    if package_roots:
        found = scan_packages(
            package_roots, loose_modules=set(loose), exclude_type_checking=exclude_type_checking
        )
        scan.modules.update(found.modules)
        scan.imports.update(found.imports)
        scan.unparsed.update(found.unparsed)
    for module, source in sorted(loose.items()):
        try:
            raw = scan_file(
                source.path, module, is_package=False, exclude_type_checking=exclude_type_checking
            )
        except SourceSyntaxError as error:
            logger.warning("left out of the map (cannot be parsed): %s", error)
            scan.unparsed[source.path] = error
            del scan.modules[module]
            continue
        scan.imports[module] = resolve_imports(raw, scan.modules)
    return scan
