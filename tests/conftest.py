"""Shared fixtures: projects written into ``tmp_path``; ``sys.modules``/``sys.path`` restored."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

WriteProject = Callable[[dict[str, str]], Path]


@pytest.fixture(autouse=True)
def restore_import_state() -> Iterator[None]:
    """Every test leaves ``sys.modules``, ``sys.path``, ``sys.meta_path`` (and
    ``importlib.import_module``, which the import recorder wraps) as it found them."""
    modules = dict(sys.modules)
    path = list(sys.path)
    meta_path = list(sys.meta_path)
    import_module = importlib.import_module  # the import recorder wraps it while installed
    try:
        yield
    finally:
        importlib.import_module = import_module
        sys.meta_path[:] = meta_path
        sys.path[:] = path
        for name in set(sys.modules) - set(modules):
            del sys.modules[name]
        sys.modules.update(modules)
        importlib.invalidate_caches()


@pytest.fixture
def project(tmp_path: Path) -> WriteProject:
    """Write files into ``tmp_path/project`` and put that folder on ``sys.path``.

    Call it with ``{"pkg/__init__.py": "...", "pkg/a.py": "..."}``; the texts are
    dedented. Returns the project folder. Can be called again to add or change
    files.
    """
    root = tmp_path / "project"
    root.mkdir()

    def write(files: dict[str, str]) -> Path:
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        importlib.invalidate_caches()
        return root

    return write
