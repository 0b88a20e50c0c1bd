"""Random packages for differential testing: a model that renders to files, and edits to it.

A project is a package of modules in nested subpackages. Every module computes
``VALUE`` from the ``VALUE`` of what it imports, in one of several import
styles (``import x``, ``import x as y``, ``from p import m``, ``from m import
name``, relative imports, an import inside a function called at import time),
plus back-edges that form import cycles Python accepts (a module imported as a
whole and used only later). ``entry`` imports every module.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

PACKAGES = ("", "sub", "sub.inner", "other")
STYLES = ("import", "import_as", "from_module", "from_name", "relative", "function")


@dataclass
class Import:
    target: str  # a module's name relative to the package
    style: str


@dataclass
class Module:
    name: str  # relative to the package: "m3", "sub.inner.m7"
    const: int
    imports: list[Import] = field(default_factory=list)
    cycles: list[str] = field(default_factory=list)  # imported whole, used only later
    broken: str | None = None  # "syntax" or "raise"
    value_name: str = "VALUE"

    @property
    def parent(self) -> str:
        return self.name.rpartition(".")[0]


@dataclass
class Project:
    package: str
    modules: dict[str, Module]
    reexport: str | None  # a module whose VALUE the package's __init__ re-exports
    order: list[str] = field(default_factory=list)  # entry's import order

    def absolute(self, name: str) -> str:
        return f"{self.package}.{name}" if name else self.package

    def path(self, root: Path, name: str) -> Path:
        return root.joinpath(self.package, *name.split(".")).with_suffix(".py")

    def files(self) -> dict[str, str]:
        """Relative path -> source, for the whole project."""
        files = {}
        for package in PACKAGES:
            folder = "/".join([self.package, *package.split(".")]) if package else self.package
            text = ""
            if not package and self.reexport in self.modules:
                text = f"from .{self.reexport} import VALUE as REEXPORTED\n"
            files[f"{folder}/__init__.py"] = text
        for module in self.modules.values():
            files[f"{self.package}/{module.name.replace('.', '/')}.py"] = self.render(module)
        entry_imports = [f"import {self.absolute(name)}" for name in self.order]
        total = " + ".join(f"{self.absolute(name)}.VALUE" for name in self.order) or "0"
        files[f"{self.package}/entry.py"] = "\n".join([*entry_imports, f"VALUE = {total}", ""])
        return files

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
        for number, target in enumerate(module.cycles):
            lines.append(f"def later_{number}():\n    return {self.absolute(target)}.VALUE")
        if module.broken == "raise":
            lines.append("raise RuntimeError('broken at import time')")
        return "\n".join(lines) + "\n"

    def _import_line(self, module: Module, item: Import, number: int) -> tuple[str, str]:
        target = self.absolute(item.target)
        parent, _, last = target.rpartition(".")
        alias = f"_t{number}"
        style = item.style
        if style == "import":
            return f"import {target}", f"{target}.VALUE"
        if style == "import_as":
            return f"import {target} as {alias}", f"{alias}.VALUE"
        if style == "from_module":
            return f"from {parent} import {last} as {alias}", f"{alias}.VALUE"
        if style == "from_name":
            return f"from {target} import VALUE as {alias}", alias
        if style == "relative":
            depth = module.name.count(".")  # how far the module's package is below the root
            dots = "." * (depth + 1)
            return f"from {dots}{item.target} import VALUE as {alias}", alias
        return (
            f"def {alias}():\n    from {parent} import {last}\n    return {last}.VALUE",
            f"{alias}()",
        )

    def write(self, root: Path) -> None:
        """Make ``root`` hold exactly this project's files."""
        wanted = self.files()
        package_root = root / self.package
        if package_root.exists():
            for path in package_root.rglob("*.py"):
                relative = path.relative_to(root).as_posix()
                if relative not in wanted:
                    path.unlink()
        for relative, text in wanted.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_text() != text:
                path.write_text(text)

    def remove(self, root: Path) -> None:
        shutil.rmtree(root / self.package, ignore_errors=True)


@st.composite
def projects(
    draw: st.DrawFn, package: str, min_modules: int = 10, max_modules: int = 60
) -> Project:
    count = draw(st.integers(min_modules, max_modules))
    names = [
        f"{prefix}.m{index}" if (prefix := draw(st.sampled_from(PACKAGES))) else f"m{index}"
        for index in range(count)
    ]
    modules = {}
    for index, name in enumerate(names):
        later = names[index + 1 :]  # imports go to later modules: no cycle but the chosen ones
        imports = []
        if later:
            for target in draw(st.lists(st.sampled_from(later), max_size=3, unique=True)):
                imports.append(Import(target, draw(st.sampled_from(STYLES))))
        earlier = names[:index]
        cycles = []
        if earlier and draw(st.integers(0, 9)) == 0:
            cycles.append(draw(st.sampled_from(earlier)))
        modules[name] = Module(name, draw(st.integers(0, 100)), imports, cycles)
    order = draw(st.permutations(names))
    reexport = draw(st.sampled_from([None, *names]))
    return Project(package, modules, reexport, list(order))


@dataclass
class Edit:
    """One change to the project; ``then`` is a second step (the fix of a broken edit)."""

    kind: str
    module: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind}({self.module}{', ' + self.detail if self.detail else ''})"


@st.composite
def edits(draw: st.DrawFn, project: Project) -> Edit:
    names = sorted(project.modules)
    kind = draw(
        st.sampled_from(
            [
                "constant",
                "add_import",
                "remove_import",
                "add_module",
                "delete_module",
                "rename",
                "syntax_error",
                "import_error",
                "fix",
            ]
        )
    )
    module = draw(st.sampled_from(names))
    if kind == "add_import":
        return Edit(
            kind, module, draw(st.sampled_from(names)) + ":" + draw(st.sampled_from(STYLES))
        )
    if kind == "add_module":
        return Edit(kind, module, draw(st.sampled_from(PACKAGES)))
    return Edit(kind, module, str(draw(st.integers(0, 100))))


def _constant(project: Project, module: Module, edit: Edit) -> None:
    module.const = int(edit.detail)


def _add_import(project: Project, module: Module, edit: Edit) -> None:
    target, style = edit.detail.split(":")
    if target != module.name and target in project.modules:
        module.imports.append(Import(target, style))


def _remove_import(project: Project, module: Module, edit: Edit) -> None:
    if module.imports:
        module.imports.pop(int(edit.detail) % len(module.imports))


def _add_module(project: Project, module: Module, edit: Edit) -> None:
    new = f"new{len(project.modules)}"
    name = f"{edit.detail}.{new}" if edit.detail else new
    if name not in project.modules:
        project.modules[name] = Module(name, len(project.modules))
        module.imports.append(Import(name, "from_name"))
        project.order.append(name)


def _delete_module(project: Project, module: Module, edit: Edit) -> None:
    del project.modules[module.name]
    project.order.remove(module.name)
    if project.reexport == module.name:
        project.reexport = None
    if int(edit.detail) % 2 == 0:  # half the time the importers are edited too
        for each in project.modules.values():
            each.imports = [i for i in each.imports if i.target != module.name]
            each.cycles = [c for c in each.cycles if c != module.name]


def _rename(project: Project, module: Module, edit: Edit) -> None:
    module.value_name = "VALUE" if module.value_name != "VALUE" else "RENAMED"


def _syntax_error(project: Project, module: Module, edit: Edit) -> None:
    module.broken = "syntax"


def _import_error(project: Project, module: Module, edit: Edit) -> None:
    module.broken = "raise"


def _fix(project: Project, module: Module, edit: Edit) -> None:
    for each in project.modules.values():
        each.broken = None


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
}


def apply(project: Project, edit: Edit) -> None:
    """Change the model; the caller writes the files."""
    module = project.modules.get(edit.module)
    if module is not None:
        EDITS[edit.kind](project, module, edit)
