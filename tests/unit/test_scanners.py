"""The import scanners: ``ast_scan`` for single files, ``grimp_scan`` for packages."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from staticreload import ast_scan
from staticreload.exceptions import SourceSyntaxError
from staticreload.graph import FUNCTION_SCOPE, MODULE_SCOPE, ImportLine
from staticreload.grimp_scan import _scope_at, scan_packages

M, F = MODULE_SCOPE, FUNCTION_SCOPE


def scan(
    tmp_path: Path,
    source: str,
    module: str = "pkg.mod",
    *,
    is_package: bool = False,
    exclude_type_checking: bool = True,
) -> list[tuple[str, str]]:
    """``(candidate, scope)`` of each import ``scan_file`` finds in ``source``."""
    path = tmp_path / "scanned.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    found = ast_scan.scan_file(
        path, module, is_package=is_package, exclude_type_checking=exclude_type_checking
    )
    return [(item.candidate, item.line.scope) for item in found]


@pytest.mark.parametrize(
    ("source", "module", "is_package", "expected"),
    [
        ("import a\nimport b.c as d, e\n", "pkg.mod", False, [("a", M), ("b.c", M), ("e", M)]),
        ("from a.b import c, d as e\n", "pkg.mod", False, [("a.b.c", M), ("a.b.d", M)]),
        ("from a import *\n", "pkg.mod", False, [("a", M)]),
        # relative imports, resolved against the module's package
        ("from . import x\n", "pkg.mod", False, [("pkg.x", M)]),
        ("from . import x\n", "pkg", True, [("pkg.x", M)]),
        ("from . import x, y\n", "pkg.sub", True, [("pkg.sub.x", M), ("pkg.sub.y", M)]),
        ("from .x import f\n", "pkg.mod", False, [("pkg.x.f", M)]),
        ("from .. import y\n", "pkg.sub.mod", False, [("pkg.y", M)]),
        ("from .. import y\n", "pkg.sub", True, [("pkg.y", M)]),
        ("from ..z import w\n", "pkg.sub.mod", False, [("pkg.z.w", M)]),
        ("from ...q import r\n", "a.b.c.d", False, [("a.q.r", M)]),
        ("from .sub import *\n", "pkg", True, [("pkg.sub", M)]),
        ("from . import *\n", "pkg", True, [("pkg", M)]),
        # beyond the top-level package: an ImportError at run time, no candidate
        ("from .. import x\n", "pkg.mod", False, []),
        ("from .... import x\n", "pkg.sub.mod", False, []),
        ("from . import x\n", "loose", False, []),
    ],
)
def test_import_styles_and_relative_imports(
    tmp_path: Path, source: str, module: str, is_package: bool, expected: list[tuple[str, str]]
) -> None:
    assert scan(tmp_path, source, module, is_package=is_package) == expected


SCOPES = """\
    import top
    if X:
        import in_if
    elif Y:
        import in_elif
    else:
        import in_else
    try:
        import in_try
    except ImportError:
        import in_except
    else:
        import in_try_else
    finally:
        import in_finally
    with ctx:
        import in_with
    for i in x:
        import in_for
    else:
        import in_for_else
    while x:
        import in_while
    match x:
        case 1:
            import in_case
    class C:
        import in_class
        class Inner:
            import in_inner_class
        def method(self):
            import in_method
    def f():
        import in_def
        class Local:
            import in_local_class
        if x:
            import in_def_if
        def g():
            import in_nested_def
    async def h():
        import in_async_def
        async with ctx:
            import in_async_with
    @decorator
    def decorated():
        import in_decorated
    if X:
        def in_if_def():
            import in_def_in_if
    import last
    """

SCOPE_OF = {
    "top": M,
    "in_if": M,
    "in_elif": M,
    "in_else": M,
    "in_try": M,
    "in_except": M,
    "in_try_else": M,
    "in_finally": M,
    "in_with": M,
    "in_for": M,
    "in_for_else": M,
    "in_while": M,
    "in_case": M,
    "in_class": M,
    "in_inner_class": M,
    "in_method": F,
    "in_def": F,
    "in_local_class": F,
    "in_def_if": F,
    "in_nested_def": F,
    "in_async_def": F,
    "in_async_with": F,
    "in_decorated": F,
    "in_def_in_if": F,
    "last": M,
}


def test_function_scope_versus_module_scope(tmp_path: Path) -> None:
    assert scan(tmp_path, SCOPES) == list(SCOPE_OF.items())  # in source order too


def test_lines_are_the_statements_first_line(tmp_path: Path) -> None:
    path = tmp_path / "lines.py"
    path.write_text("x = 1\nfrom a import (\n    b,\n    c,\n)\ndef f():\n    import d\n")
    found = ast_scan.scan_file(path, "m", is_package=False, exclude_type_checking=True)
    assert [(item.candidate, item.line) for item in found] == [
        ("a.b", ImportLine(2, "from a import (", M)),
        ("a.c", ImportLine(2, "from a import (", M)),
        ("d", ImportLine(7, "import d", F)),
    ]


TYPE_CHECKING_SOURCE = """\
    import typing
    from typing import TYPE_CHECKING
    if TYPE_CHECKING:
        import only_for_types
    else:
        import at_run_time
    if typing.TYPE_CHECKING:
        import only_for_types_too
    if not TYPE_CHECKING:
        import negated
    def f():
        if TYPE_CHECKING:
            import in_function
    """


def test_type_checking_blocks(tmp_path: Path) -> None:
    always = ["typing", "typing.TYPE_CHECKING", "at_run_time", "negated"]
    excluded = scan(tmp_path, TYPE_CHECKING_SOURCE, exclude_type_checking=True)
    assert [name for name, _ in excluded] == always
    kept = scan(tmp_path, TYPE_CHECKING_SOURCE, exclude_type_checking=False)
    assert sorted(name for name, _ in kept) == sorted(
        [*always, "only_for_types", "only_for_types_too", "in_function"]
    )


@pytest.mark.parametrize(
    "source",
    [
        "import a\nx = 1" + " + 1" * 100_000 + "\n",  # the parser: RecursionError
        "import a\nx = " + "-" * 100_000 + "1\n",  # the parser: MemoryError
        "import a\nx = " + "(" * 300 + ")" * 300 + "\n",  # too many nested parentheses
        "import a\ndef broken(:\n",
        "import a\x00\n",
    ],
    ids=["recursion", "memory", "parentheses", "syntax", "null-byte"],
)
def test_unparsable_files_raise_source_syntax_error(tmp_path: Path, source: str) -> None:
    path = tmp_path / "deep.py"
    path.write_text(source)
    with pytest.raises(SourceSyntaxError) as caught:
        ast_scan.scan_file(path, "deep", is_package=False, exclude_type_checking=True)
    assert caught.value.path == str(path)
    assert caught.value.reason


def test_deep_code_that_parses_is_scanned_without_recursion(tmp_path: Path) -> None:
    nested = "".join("    " * depth + "if x:\n" for depth in range(90)) + "    " * 90 + "import a\n"
    deep_expression = "y = 1" + " + 1" * 1000 + "\n"
    found = scan(tmp_path, nested + deep_expression + "def f():\n    import b\n")
    assert found == [("a", M), ("b", F)]


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("pkg", "pkg"),
        ("pkg.a", "pkg.a"),
        ("pkg.a.func", "pkg.a"),  # a name imported from pkg.a
        ("pkg.missing", "pkg"),  # a name in pkg, or a module not in the map yet
        ("pkg.sub.b", "pkg.sub.b"),
        ("pkg.sub.b.x.y", None),  # its parent pkg.sub.b.x is no module
        ("pkg.sub.missing.x", None),
        ("os", None),
        ("os.path", None),
        ("pk", None),
        ("", None),
    ],
)
def test_resolve(candidate: str, expected: str | None) -> None:
    modules = {"pkg", "pkg.a", "pkg.sub", "pkg.sub.b"}
    assert ast_scan.resolve(candidate, modules) == expected


def test_resolve_imports_groups_by_module_and_drops_the_rest() -> None:
    line = [ImportLine(n, f"line {n}", M) for n in range(4)]
    raw = [
        ast_scan.RawImport("pkg.a.f", line[0]),
        ast_scan.RawImport("pkg.a", line[1]),
        ast_scan.RawImport("os", line[2]),
        ast_scan.RawImport("pkg.x", line[3]),
    ]
    assert ast_scan.resolve_imports(raw, {"pkg", "pkg.a"}) == {
        "pkg.a": [line[0], line[1]],
        "pkg": [line[3]],
    }


# grimp_scan: the scope of an import from its line's indentation.

TRICKY = """\
import top

def f(
    a,
    b=(1,
       2),
):
    import after_long_header

class C:
    import in_class

    # a comment

    def method(self):

        import after_blank_line
    import back_in_class

if X:
    def g():
        if y:
            import deep_in_function
    import in_if
\ttry:
\t\timport tabbed
\texcept ImportError:
\t\tpass
async def h():
    import in_async
@decorator
def decorated():
    import in_decorated
def outer():
    class Local:
        import in_local_class
result = call(
    arg,
)
import bottom
"""


def test_scope_at_on_tricky_layouts() -> None:
    lines = TRICKY.encode().split(b"\n")
    scopes = {
        line.split()[-1].decode(): _scope_at(lines, number)
        for number, line in enumerate(lines, start=1)
        if line.strip().startswith(b"import ")
    }
    assert scopes == {
        "top": M,
        "after_long_header": F,
        "in_class": M,
        "after_blank_line": F,
        "back_in_class": M,
        "deep_in_function": F,
        "in_if": M,
        "tabbed": M,
        "in_async": F,
        "in_decorated": F,
        "in_local_class": F,
        "bottom": M,
    }
    assert _scope_at(lines, len(lines) + 10) == M  # past the end: assume import time


def test_scope_at_agrees_with_ast_on_the_scope_table() -> None:
    source = textwrap.dedent(SCOPES).encode()
    lines = source.split(b"\n")
    scopes = {
        line.split()[-1].decode(): _scope_at(lines, number)
        for number, line in enumerate(lines, start=1)
        if line.strip().startswith(b"import ")
    }
    assert scopes == SCOPE_OF


PACKAGE = {
    "pkg/__init__.py": "from . import models\n",
    "pkg/models.py": "from pkg import util\nimport loose_helper\nimport os\n",
    "pkg/sub/__init__.py": "",
    "pkg/sub/deep.py": "from .. import util\ndef f():\n    from pkg.sub import other\n",
    "pkg/sub/other.py": "",
    "loose_helper.py": "",
    # every layout of the scope table, importing a module of the package
    "pkg/util.py": "\n".join(
        line.replace("import ", "import pkg.") for line in textwrap.dedent(SCOPES).splitlines()
    ),
    **{f"pkg/{name}.py": "" for name in SCOPE_OF},
}


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """The package's files, in a folder that is not on ``sys.path``."""
    root = tmp_path / "not_on_sys_path"
    for name, text in PACKAGE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_scan_packages_never_changes_sys_path_or_imports(package: Path) -> None:
    path_before, modules_before = list(sys.path), set(sys.modules)
    scan = scan_packages(
        {"pkg": package}, loose_modules={"loose_helper"}, exclude_type_checking=True
    )
    modules, imports = scan[0], scan[1]
    assert sys.path == path_before
    assert set(sys.modules) == modules_before
    assert {"pkg", "pkg.models", "pkg.sub", "pkg.sub.deep", "pkg.sub.other", "pkg.util"} <= set(
        modules
    )
    assert modules["pkg.sub"].path == package / "pkg" / "sub" / "__init__.py"
    assert modules["pkg.sub"].is_package and not modules["pkg.util"].is_package
    assert sorted(imports["pkg.models"]) == ["loose_helper", "pkg.util"]  # os is not kept
    assert sorted(imports["pkg.sub.deep"]) == ["pkg.sub.other", "pkg.util"]
    assert imports["pkg.sub.deep"]["pkg.sub.other"] == [
        ImportLine(3, "from pkg.sub import other", F)
    ]


def test_scan_packages_scopes_agree_with_ast(package: Path) -> None:
    scan = scan_packages({"pkg": package}, exclude_type_checking=True)
    found = scan[1]["pkg.util"]
    scopes = {name: found[f"pkg.{name}"][0].scope for name in SCOPE_OF if f"pkg.{name}" in found}
    assert scopes == SCOPE_OF
    raw = ast_scan.scan_file(
        package / "pkg" / "util.py", "pkg.util", is_package=False, exclude_type_checking=True
    )
    by_ast = ast_scan.resolve_imports(raw, scan[0])
    assert {name: sorted(lines) for name, lines in found.items()} == {
        name: sorted(lines) for name, lines in by_ast.items()
    }
