"""Random packages for differential testing: a model that renders to files, and edits to it.

A project is a package of modules in nested subpackages. Every module computes
``VALUE`` from the ``VALUE`` of what it imports, in one of several import
styles (``import x``, ``import x as y``, ``from p import m``, ``from m import
name``, relative imports, an import inside a function called at import time),
plus back-edges that form import cycles Python accepts (a module imported as a
whole and used only later). ``entry`` imports every module.

On top of that base, the import shapes real packages use (``SHAPES``; each
can be in a generated project, and edits create, change or remove it):

- ``reexport``: a module defines a function, class or object named like itself
  and its package's ``__init__`` re-exports it (``from .m3 import m3``, as
  networkx and Flask apps do); an ``__init__`` sets ``__all__`` from
  ``globals()``.
- ``chains``: every package ``__init__`` has a ``VALUE`` that modules import
  (``import pkg.sub.inner as m``, ``pkg.sub.inner.VALUE``,
  ``from pkg.sub import VALUE``), and edits change ``__init__`` files.
- ``root_functions``: a package's ``__init__`` imports its subpackages while
  functions deep inside import the top package, called at import time or
  only later (``probe()``, which the oracle calls).
- ``optional``: guarded imports of modules that may not exist yet
  (``try: from .local1 import * except ImportError: pass``, ``try: from
  pkg.plugins.opt0 import VALUE``, in a ``plugins`` subpackage that exists
  only while it holds a module); an edit creates them.
- ``namespace``: modules in a folder without ``__init__.py`` inside the package
  (``ns``) and next to it (``<package>_beside``; the reloader's target is then
  the project folder).
- ``saves``: files saved by unlinking and creating (git checkout) or through a
  temporary file and renames (JetBrains' safe write), modules moved to
  another package, a module turned into a package and back; all of one
  edit's paths come in one batch.
- ``dynamic``: ``views.handle()`` imports modules with
  ``importlib.import_module`` at request time and keeps them in a dict; the
  entry re-exports it and the oracle calls it.

The model only has to render valid files: whether a reload is right is
judged against a cold import of those files, never against the model.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

REGULAR = ("", "sub", "sub.inner", "other")  # packages with an __init__.py, always there
NAMESPACE = "ns"  # a folder without __init__.py inside the package
PLUGINS = "plugins"  # a subpackage that exists only while a module is in it
BESIDE = "beside"  # a namespace package next to the package, named <package>_beside
ALL_SHAPES = frozenset(
    {"reexport", "chains", "root_functions", "optional", "namespace", "saves", "dynamic"}
)
# By default every shape but ``namespace``: namespace folders inside a regular
# package, or beside packages under a folder target, are a known limitation
# (README; test_shapes.py holds strict xfails for both). Name it in
# STATICRELOAD_RELIABILITY_SHAPES to generate it anyway.
SHAPES = ALL_SHAPES - {"namespace"}
STYLES = ("import", "import_as", "from_module", "from_name", "relative", "function")
GUARDED = ("guarded_star", "guarded_from")
EXPORTS = ("function", "class", "object")
SAVES = ("write", "replace", "safe_write")
BASE_EDITS = (
    "constant",
    "add_import",
    "remove_import",
    "add_module",
    "delete_module",
    "rename",
    "syntax_error",
    "import_error",
    "fix",
)
SHAPE_EDITS = {
    "reexport": ("export", "reexport", "all_globals"),
    "chains": ("init_constant",),
    "root_functions": ("init_import", "probe"),
    "optional": ("optional",),
    "saves": ("move", "to_package"),
    "dynamic": ("dynamic",),
}


def join(package: str, name: str) -> str:
    """``name`` inside ``package`` (relative names; ``""`` is the top package)."""
    return f"{package}.{name}" if package else name


def last_part(name: str) -> str:
    return name.rpartition(".")[2]


def is_beside(name: str) -> bool:
    return name == BESIDE or name.startswith(BESIDE + ".")


def is_optional(name: str) -> bool:
    """Optional modules (the targets of guarded imports) are named ``local<k>``/``opt<k>``."""
    return last_part(name).startswith(("local", "opt"))


@dataclass
class Import:
    target: str  # a module's (or a regular package's) name relative to the package
    style: str


@dataclass
class Module:
    name: str  # relative to the package: "m3", "sub.inner.m7", "beside.m2"
    const: int
    imports: list[Import] = field(default_factory=list)
    cycles: list[str] = field(default_factory=list)  # imported whole, used only later
    broken: str | None = None  # "syntax" or "raise"
    value_name: str = "VALUE"
    export: str | None = None  # a function, class or object named like the module
    reexported: bool = False  # ... which its package's __init__ imports
    is_package: bool = False  # m3/__init__.py instead of m3.py
    probes: list[str] = field(default_factory=list)  # imported inside probe(), called later

    @property
    def parent(self) -> str:
        return self.name.rpartition(".")[0]


def _function_import(absolute: str) -> tuple[str, str]:
    """An import statement for inside a function, and the expression for the target's VALUE."""
    parent, _, last = absolute.rpartition(".")
    if not parent:
        return f"import {absolute}", f"{absolute}.VALUE"
    return f"from {parent} import {last}", f"{last}.VALUE"


def _export_lines(module: Module) -> list[str]:
    name = last_part(module.name)
    if module.export == "function":
        return [f"def {name}():\n    return VALUE", f"{name}.VALUE = VALUE"]
    if module.export == "class":
        return [f"class {name}:\n    VALUE = VALUE"]
    if module.export == "object":
        return ["class _Object:\n    pass", f"{name} = _Object()", f"{name}.VALUE = VALUE"]
    return []


@dataclass
class Project:
    package: str
    modules: dict[str, Module]
    reexport: str | None  # a module whose VALUE the package's __init__ re-exports
    order: list[str] = field(default_factory=list)  # entry's import order
    shapes: frozenset[str] = SHAPES
    whole_root: bool = False  # the reloader's target is the project folder
    init_consts: dict[str, int] = field(default_factory=dict)  # package -> its VALUE
    all_globals: set[str] = field(default_factory=set)  # __init__ sets __all__ from globals()
    init_imports: set[str] = field(default_factory=set)  # packages their parent imports
    dynamic: list[str] = field(default_factory=list)  # imported by views.handle() at request time

    # Names

    @property
    def tops(self) -> tuple[str, ...]:
        """The top-level names the project's modules live under."""
        return (self.package, f"{self.package}_{BESIDE}")

    def targets(self, root: Path) -> list[str | Path]:
        """What the reloader is built for."""
        return [root] if self.whole_root else [self.package]

    def absolute(self, name: str) -> str:
        if is_beside(name):
            return f"{self.package}_{name}"
        return f"{self.package}.{name}" if name else self.package

    def places(self) -> list[str]:
        """Where modules can be: the regular packages, and the shapes' folders."""
        places = list(REGULAR)
        if "optional" in self.shapes:
            places.append(PLUGINS)
        if "namespace" in self.shapes:
            places.append(NAMESPACE)
            if self.whole_root:
                places.append(BESIDE)
        return places

    def packages(self) -> list[str]:
        """The regular packages that exist: ``plugins`` only while a module is in it."""
        holds_plugins = any(name.startswith(PLUGINS + ".") for name in self.modules)
        return [*REGULAR, *([PLUGINS] if holds_plugins else [])]

    def import_packages(self) -> list[str]:
        """Packages modules may import (their ``__init__`` defines ``VALUE``)."""
        return list(REGULAR) if self.shapes & {"chains", "root_functions"} else []

    def optional_names(self) -> list[str]:
        """Optional modules guarded imports name that do not exist now."""
        wanted = {i.target for m in self.modules.values() for i in m.imports if i.style in GUARDED}
        return sorted(wanted - set(self.modules))

    def edit_kinds(self) -> list[str]:
        kinds = list(BASE_EDITS)
        for shape in sorted(self.shapes):
            kinds += SHAPE_EDITS.get(shape, ())
        return kinds

    # Rendering

    def relative_path(self, name: str) -> str:
        """The file of a module (or of a package's ``__init__``), relative to the root."""
        parts = self.absolute(name).split(".")
        module = self.modules.get(name)
        if module is None or module.is_package:
            return "/".join([*parts, "__init__.py"])
        return "/".join(parts) + ".py"

    def files(self) -> dict[str, str]:
        """Relative path -> source, for the whole project."""
        files = {self.relative_path(p): self.render_init(p) for p in self.packages()}
        for module in self.modules.values():
            files[self.relative_path(module.name)] = self.render(module)
        entry_imports = [f"import {self.absolute(name)}" for name in self.order]
        total = " + ".join(f"{self.absolute(name)}.VALUE" for name in self.order) or "0"
        entry = [*entry_imports, "from .views import handle", f"VALUE = {total}", ""]
        files[f"{self.package}/entry.py"] = "\n".join(entry)
        files[f"{self.package}/views.py"] = self.render_views()
        return files

    def render_init(self, package: str) -> str:
        lines = [f"VALUE = {self.init_consts.get(package, 0)}"]
        children = sorted(
            last_part(p)
            for p in self.init_imports
            if p.rpartition(".")[0] == package and p in self.packages()
        )
        if children:
            lines.append(f"from . import {', '.join(children)}")
        for module in sorted(self.modules.values(), key=lambda m: m.name):
            if module.parent == package and module.reexported and module.export:
                lines.append(f"from .{last_part(module.name)} import {last_part(module.name)}")
        if not package and self.reexport in self.modules and not is_beside(self.reexport):
            lines.append(f"from .{self.reexport} import VALUE as REEXPORTED")
        if package in self.all_globals:
            lines.append('__all__ = [n for n in globals() if not n.startswith("_")]')
        return "\n".join(lines) + "\n"

    def render_views(self) -> str:
        names = [self.absolute(name) for name in self.dynamic]
        return textwrap.dedent(
            f"""\
            import importlib
            NAMES = {names!r}
            _CACHE = {{}}
            def handle():
                total = 0
                for name in NAMES:
                    if name not in _CACHE:
                        _CACHE[name] = importlib.import_module(name)
                    total += _CACHE[name].VALUE
                return total
            """
        )

    def render(self, module: Module) -> str:
        if module.broken == "syntax":
            return "VALUE = (\n"
        lines: list[str] = []
        terms = [str(module.const)]
        for number, item in enumerate(module.imports):
            line, term = self._import_line(module, item, number)
            lines.append(line)
            terms.append(term)
        for target in module.cycles:
            lines.append(f"import {self.absolute(target)}")
        lines.append(f"{module.value_name} = " + " + ".join(terms))
        if module.value_name != "VALUE":
            lines.append(f"VALUE = {module.value_name}")
        if is_optional(module.name):  # what a star import of it brings in
            lines.append(f"{last_part(module.name).upper()} = VALUE")
        lines += _export_lines(module)
        for number, target in enumerate(module.cycles):
            lines.append(f"def later_{number}():\n    return {self.absolute(target)}.VALUE")
        lines += self._probe_lines(module)
        if module.broken == "raise":
            lines.append("raise RuntimeError('broken at import time')")
        return "\n".join(lines) + "\n"

    def _probe_lines(self, module: Module) -> list[str]:
        if not module.probes:
            return []
        lines = ["def probe():", "    total = 0"]
        for target in module.probes:
            statement, expression = _function_import(self.absolute(target))
            lines += [f"    {statement}", f"    total += {expression}"]
        return ["\n".join([*lines, "    return total"])]

    def _style(self, module: Module, item: Import) -> str:
        """The style to render: some do not apply to every pair of modules."""
        if item.style == "from_module" and not item.target:
            return "import_as"  # the top package has no parent to import it from
        if item.style == "relative" and (is_beside(module.name) or is_beside(item.target)):
            return "from_name"  # no relative import across top-level packages
        return item.style

    def _import_line(self, module: Module, item: Import, number: int) -> tuple[str, str]:
        target = self.absolute(item.target)
        parent, _, last = target.rpartition(".")
        alias = f"_t{number}"
        style = self._style(module, item)
        if style in GUARDED:
            return self._guarded_line(module, item, alias)
        if style == "import":
            return f"import {target}", f"{target}.VALUE"
        if style == "import_as":
            return f"import {target} as {alias}", f"{alias}.VALUE"
        if style == "from_module":
            return f"from {parent} import {last} as {alias}", f"{alias}.VALUE"
        if style == "from_name":
            return f"from {target} import VALUE as {alias}", alias
        if style == "relative":
            # How far the module's package is below the top package.
            depth = module.name.count(".") + module.is_package
            return f"from {'.' * (depth + 1)}{item.target} import VALUE as {alias}", alias
        statement, expression = _function_import(target)
        return f"def {alias}():\n    {statement}\n    return {expression}", f"{alias}()"

    def _guarded_line(self, module: Module, item: Import, alias: str) -> tuple[str, str]:
        if item.style == "guarded_star":  # a sibling: from .local1 import *
            dots = "." * (1 + module.is_package)
            name = last_part(item.target)
            line = f"try:\n    from {dots}{name} import *\nexcept ImportError:\n    pass"
            return line, f"globals().get({name.upper()!r}, 0)"
        target = self.absolute(item.target)
        line = (
            f"try:\n    from {target} import VALUE as {alias}\nexcept ImportError:\n    {alias} = 0"
        )
        return line, alias

    # Files

    def write(self, root: Path, save: str = "write") -> list[Path]:
        """Make ``root`` hold exactly this project's files.

        Args:
            root: the project folder.
            save: how changed files are saved (see :func:`save_file`).

        Returns:
            The paths the file events of these changes name, in order: what
            a watcher would hand the reloader as one batch.
        """
        wanted = self.files()
        events = []
        for top in self.tops:
            for path in sorted((root / top).rglob("*.py")):
                if path.relative_to(root).as_posix() not in wanted:
                    events += save_file(path, None)
        for relative, text in wanted.items():
            path = root / relative
            if not path.exists() or path.read_text() != text:
                events += save_file(path, text, save)
        for top in self.tops:
            _remove_folders_without_modules(root / top)
        return events

    def remove(self, root: Path) -> None:
        for top in self.tops:
            shutil.rmtree(root / top, ignore_errors=True)

    # Changes to the model

    def rename_module(self, old: str, new: str) -> None:
        """Move module ``old`` to the name ``new``; everything that names it follows."""
        module = self.modules.pop(old)
        module.name = new
        self.modules[new] = module

        def swap(name: str) -> str:
            return new if name == old else name

        for each in self.modules.values():
            each.imports = [Import(swap(i.target), i.style) for i in each.imports]
            each.cycles = [swap(c) for c in each.cycles]
            each.probes = [swap(p) for p in each.probes]
        self.order = [swap(n) for n in self.order]
        self.dynamic = [swap(n) for n in self.dynamic]
        if self.reexport == old:
            self.reexport = new


def save_file(path: Path, text: str | None, how: str = "write") -> list[Path]:
    """Change one file as an editor or git would; the paths its events name, in order.

    Args:
        path: the file.
        text: the new content, or None to delete the file.
        how: ``"write"`` in place; ``"replace"`` unlinks, then creates (git
            checkout); ``"safe_write"`` writes a temporary file, renames the
            original away, renames the temporary file over it and deletes the
            original (JetBrains' safe write). A new file is always just written.
    """
    if text is None:
        path.unlink()
        return [path]
    existed = path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    if how == "replace" and existed:
        path.unlink()
        path.write_text(text)
        return [path, path]
    if how == "safe_write" and existed:
        temporary = path.with_name(path.name + "___jb_tmp___")
        backup = path.with_name(path.name + "___jb_old___")
        temporary.write_text(text)
        os.replace(path, backup)
        os.replace(temporary, path)
        backup.unlink()
        return [temporary, path, backup, path, backup]
    path.write_text(text)
    return [path]


def _remove_folders_without_modules(folder: Path) -> None:
    """Delete folders left without source files, as git does (bytecode caches aside)."""
    if not folder.is_dir():
        return
    for child in folder.iterdir():
        if child.is_dir() and child.name != "__pycache__":
            _remove_folders_without_modules(child)
    if not any(folder.rglob("*.py")):
        shutil.rmtree(folder)


# Strategies


@st.composite
def _imports(draw: st.DrawFn, project: Project, later: list[str]) -> list[Import]:
    """A module's imports: of later modules (no cycle but the chosen ones), packages, optionals."""
    imports = []
    if later:
        for target in draw(st.lists(st.sampled_from(later), max_size=3, unique=True)):
            imports.append(Import(target, draw(st.sampled_from(STYLES))))
    packages = project.import_packages()
    if packages and draw(st.integers(0, 3)) == 0:
        imports.append(Import(draw(st.sampled_from(packages)), draw(st.sampled_from(STYLES))))
    if "optional" in project.shapes and draw(st.integers(0, 3)) == 0:
        style = draw(st.sampled_from(GUARDED))
        imports.append(Import(draw(_optional_name(project, style)), style))
    return imports


@st.composite
def _optional_name(draw: st.DrawFn, project: Project, style: str) -> str:
    if style == "guarded_star":  # a sibling of the importer: its package is set by the caller
        return f"local{draw(st.integers(0, 2))}"
    return join(draw(st.sampled_from(["", "sub", PLUGINS])), f"opt{draw(st.integers(0, 1))}")


@st.composite
def _module(
    draw: st.DrawFn, project: Project, name: str, later: list[str], earlier: list[str]
) -> Module:
    imports = draw(_imports(project, later))
    for item in imports:
        if item.style == "guarded_star":
            item.target = join(name.rpartition(".")[0], last_part(item.target))
    cycles = []
    if earlier and draw(st.integers(0, 9)) == 0:
        cycles.append(draw(st.sampled_from(earlier)))
    module = Module(name, draw(st.integers(0, 100)), imports, cycles)
    shapes = project.shapes
    if "reexport" in shapes:
        module.export = draw(st.sampled_from((None, None, *EXPORTS)))
        # Rarely: an __init__ that imports modules makes cycles a fresh start cannot enter.
        module.reexported = draw(st.integers(0, 4)) == 0
    if "saves" in shapes:
        module.is_package = draw(st.integers(0, 7)) == 0
    if "root_functions" in shapes and draw(st.integers(0, 3)) == 0:
        module.probes = draw(st.lists(st.sampled_from([*REGULAR, *later]), min_size=1, max_size=2))
    return module


@st.composite
def _package_shapes(draw: st.DrawFn, project: Project) -> None:
    """The packages' ``__init__`` contents and the request-time imports."""
    names = sorted(project.modules)
    shapes = project.shapes
    if shapes & {"chains", "root_functions"}:
        project.init_consts = {p: draw(st.integers(0, 100)) for p in REGULAR}
    if "reexport" in shapes:
        project.all_globals = draw(st.sets(st.sampled_from(REGULAR)))
    if "root_functions" in shapes:
        project.init_imports = draw(st.sets(st.sampled_from(REGULAR[1:])))
    if "dynamic" in shapes:
        project.dynamic = draw(st.lists(st.sampled_from(names), max_size=3, unique=True))
    for name in project.optional_names():  # some optional modules exist from the start
        if draw(st.booleans()):
            project.modules[name] = Module(name, draw(st.integers(0, 100)))


@st.composite
def projects(
    draw: st.DrawFn,
    package: str,
    min_modules: int = 10,
    max_modules: int = 60,
    shapes: frozenset[str] = SHAPES,
) -> Project:
    count = draw(st.integers(min_modules, max_modules))
    whole_root = "namespace" in shapes and draw(st.booleans())
    project = Project(package, {}, None, shapes=frozenset(shapes), whole_root=whole_root)
    places = project.places()
    names = [join(draw(st.sampled_from(places)), f"m{index}") for index in range(count)]
    for index, name in enumerate(names):
        project.modules[name] = draw(_module(project, name, names[index + 1 :], names[:index]))
    project.order = list(draw(st.permutations(names)))
    project.reexport = draw(st.sampled_from([None, *(n for n in names if not is_beside(n))]))
    draw(_package_shapes(project))
    return project


@dataclass
class Edit:
    """One change to the project, saved the way ``save`` says (see :func:`save_file`)."""

    kind: str
    module: str
    target: str = ""
    style: str = ""
    number: int = 0
    save: str = "write"

    def __str__(self) -> str:
        details = [self.module, self.target, self.style, str(self.number)]
        saved = f" by {self.save}" if self.save != "write" else ""
        return f"{self.kind}({', '.join(d for d in details if d)}){saved}"


def _edit_targets(project: Project, kind: str, style: str, names: list[str]) -> list[str]:
    """What an edit of ``kind`` can name as its target."""
    if kind in ("add_module", "move"):
        return project.places()
    if kind in ("init_constant", "all_globals"):
        return list(REGULAR)
    if kind == "init_import":
        return list(REGULAR[1:])
    if kind == "optional" or (kind == "add_import" and style in GUARDED):
        return [join(p, f"opt{k}") for p in ("", "sub", PLUGINS) for k in (0, 1)]
    return [*names, *project.import_packages()]


@st.composite
def edits(draw: st.DrawFn, project: Project) -> Edit:
    names = sorted(project.modules)
    if not names:
        return Edit("fix", "")
    kind = draw(st.sampled_from(project.edit_kinds()))
    styles = STYLES + (GUARDED if "optional" in project.shapes else ())
    style = draw(st.sampled_from(styles)) if kind == "add_import" else ""
    return Edit(
        kind,
        draw(st.sampled_from(names)),
        draw(st.sampled_from(_edit_targets(project, kind, style, names))),
        style,
        draw(st.integers(0, 100)),
        draw(st.sampled_from(SAVES if "saves" in project.shapes else ("write",))),
    )


def _constant(project: Project, module: Module, edit: Edit) -> None:
    module.const = edit.number


def _add_import(project: Project, module: Module, edit: Edit) -> None:
    target = edit.target
    if edit.style == "guarded_star":
        target = join(module.parent, f"local{edit.number % 3}")
    elif edit.style not in GUARDED and target not in project.modules and target not in REGULAR:
        return
    if target != module.name:
        module.imports.append(Import(target, edit.style))


def _remove_import(project: Project, module: Module, edit: Edit) -> None:
    if module.imports:
        module.imports.pop(edit.number % len(module.imports))


def _add_module(project: Project, module: Module, edit: Edit) -> None:
    name = join(edit.target, f"new{len(project.modules)}")
    if name not in project.modules:
        project.modules[name] = Module(name, len(project.modules))
        module.imports.append(Import(name, "from_name"))
        project.order.append(name)


def _delete_module(project: Project, module: Module, edit: Edit) -> None:
    name = module.name
    del project.modules[name]
    if name in project.order:
        project.order.remove(name)
    if project.reexport == name:
        project.reexport = None
    if edit.number % 2 == 0:  # half the time the importers are edited too
        for each in project.modules.values():
            each.imports = [i for i in each.imports if i.target != name]
            each.cycles = [c for c in each.cycles if c != name]
            each.probes = [p for p in each.probes if p != name]
        project.dynamic = [d for d in project.dynamic if d != name]


def _rename(project: Project, module: Module, edit: Edit) -> None:
    module.value_name = "VALUE" if module.value_name != "VALUE" else "RENAMED"


def _syntax_error(project: Project, module: Module, edit: Edit) -> None:
    module.broken = "syntax"


def _import_error(project: Project, module: Module, edit: Edit) -> None:
    module.broken = "raise"


def _fix(project: Project, module: Module, edit: Edit) -> None:
    for each in project.modules.values():
        each.broken = None


def _export(project: Project, module: Module, edit: Edit) -> None:
    module.export = (None, *EXPORTS)[edit.number % 4]


def _reexport(project: Project, module: Module, edit: Edit) -> None:
    module.reexported = not module.reexported
    module.export = module.export or EXPORTS[edit.number % 3]


def _toggle(items: set[str], item: str) -> None:
    if item in items:
        items.remove(item)
    else:
        items.add(item)


def _all_globals(project: Project, module: Module, edit: Edit) -> None:
    _toggle(project.all_globals, edit.target)


def _init_constant(project: Project, module: Module, edit: Edit) -> None:
    project.init_consts[edit.target] = edit.number


def _init_import(project: Project, module: Module, edit: Edit) -> None:
    _toggle(project.init_imports, edit.target)


def _probe(project: Project, module: Module, edit: Edit) -> None:
    if edit.number % 4 == 0:
        module.probes = []
    elif edit.target != module.name:
        module.probes.append(edit.target)


def _optional(project: Project, module: Module, edit: Edit) -> None:
    """Create an optional module a guarded import names (or ``edit.target``)."""
    missing = project.optional_names()
    name = missing[edit.number % len(missing)] if missing else edit.target
    if name not in project.modules:
        project.modules[name] = Module(name, edit.number)


def _move(project: Project, module: Module, edit: Edit) -> None:
    new = join(edit.target, last_part(module.name))
    if new not in project.modules and not is_optional(module.name):
        project.rename_module(module.name, new)


def _to_package(project: Project, module: Module, edit: Edit) -> None:
    module.is_package = not module.is_package


def _dynamic(project: Project, module: Module, edit: Edit) -> None:
    if module.name in project.dynamic:
        project.dynamic.remove(module.name)
    else:
        project.dynamic.append(module.name)


EDITS = {
    "constant": _constant,
    "add_import": _add_import,
    "remove_import": _remove_import,
    "add_module": _add_module,
    "delete_module": _delete_module,
    "rename": _rename,
    "syntax_error": _syntax_error,
    "import_error": _import_error,
    "fix": _fix,
    "export": _export,
    "reexport": _reexport,
    "all_globals": _all_globals,
    "init_constant": _init_constant,
    "init_import": _init_import,
    "probe": _probe,
    "optional": _optional,
    "move": _move,
    "to_package": _to_package,
    "dynamic": _dynamic,
}


def apply(project: Project, edit: Edit) -> None:
    """Change the model; the caller writes the files."""
    module = project.modules.get(edit.module)
    if module is not None:
        EDITS[edit.kind](project, module, edit)
