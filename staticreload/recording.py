"""Recording imports as they start: the order modules first load in, and imports no scan sees.

A finder at the front of ``sys.meta_path`` is asked about every import that is
not already in ``sys.modules``, however it was requested (``import``,
``importlib.import_module``, ``__import__``), before any other finder and
before the module runs. It records the name and returns None, so the import
system goes on as if it were not there. (An audit hook would miss
``importlib.import_module``; wrapping ``__import__`` would miss it too.)

A module already in ``sys.modules`` reaches no finder. ``importlib.import_module``
called by name at request time (a view that loads a plugin and caches it)
is therefore also seen through a wrapper of ``importlib.import_module``, in
place while any recorder is installed: code that took a reference to the
original before (``from importlib import import_module`` at import time of
a module loaded earlier) is not seen.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from importlib.machinery import ModuleSpec
from types import FrameType, ModuleType

__all__ = ["ImportRecorder"]

_MODULE_CODE_NAME = "<module>"

_original_import_module = importlib.import_module
_installed: list[ImportRecorder] = []


def _recording_import_module(name: str, package: str | None = None) -> ModuleType:
    """``importlib.import_module``, telling the installed recorders who asked for what."""
    module = _original_import_module(name, package)
    if _installed:
        with contextlib.suppress(ImportError, ValueError):
            fullname = importlib.util.resolve_name(name, package) if name[:1] == "." else name
            caller = sys._getframe(1)
            for recorder in list(_installed):
                recorder.record_use(fullname, caller)
    return module


class ImportRecorder:
    """A ``sys.meta_path`` finder that records imports and finds nothing.

    Attributes:
        positions: module name -> the position at which its first import
            started; only names for which ``is_tracked`` is true.
    """

    def __init__(self, is_tracked: Callable[[str], bool]) -> None:
        """Args:
        is_tracked: which module names to record (the project's own).
        """
        self._is_tracked = is_tracked
        self.positions: dict[str, int] = {}
        self._runtime_imports: list[tuple[str, str]] = []
        self._captures: list[list[str]] = []
        self._lock = threading.Lock()

    # The finder protocol (PEP 451).

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        """Record that the import of ``fullname`` starts; always return None."""
        if not self._is_tracked(fullname):
            return None
        with self._lock:
            self.positions.setdefault(fullname, len(self.positions))
            for capture in self._captures:
                capture.append(fullname)
        importer = self._importer(sys._getframe(1))
        if importer is not None and importer != fullname:
            with self._lock:
                self._runtime_imports.append((importer, fullname))
        return None

    def record_use(self, fullname: str, frame: FrameType) -> None:
        """Record that code at ``frame`` imported ``fullname``, loaded or not."""
        if not self.installed or not self._is_tracked(fullname):
            return
        importer = self._importer(frame)
        if importer is not None and importer != fullname:
            with self._lock:
                self._runtime_imports.append((importer, fullname))

    def _importer(self, frame: FrameType | None) -> str | None:
        """The tracked module an import starting at ``frame`` belongs to.

        While a module's top-level code runs, that module (nearest the top of
        the stack), whether the import is a statement, a call to
        ``importlib.import_module`` or happens in a function it calls. Else
        (an import at request time, in a view), the module of the nearest
        tracked function on the stack.
        """
        nearest: str | None = None
        while frame is not None:
            name = _module_name(frame)
            tracked = name is not None and self._is_tracked(name)
            if frame.f_code.co_name == _MODULE_CODE_NAME and tracked:
                return name
            if nearest is None and tracked:
                nearest = name
            frame = frame.f_back
        return nearest

    def invalidate_caches(self) -> None:
        """Nothing to invalidate; part of the finder protocol."""

    # Installation.

    @property
    def installed(self) -> bool:
        """Whether the recorder is on ``sys.meta_path``."""
        return self in sys.meta_path

    def install(self) -> None:
        """Put the recorder first on ``sys.meta_path`` (once), and wrap ``import_module``."""
        if not self.installed:
            sys.meta_path.insert(0, self)
        if self not in _installed:
            _installed.append(self)
        importlib.import_module = _recording_import_module

    def uninstall(self) -> None:
        """Take the recorder off ``sys.meta_path``; the last one unwraps ``import_module``."""
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        with contextlib.suppress(ValueError):
            _installed.remove(self)
        if not _installed and importlib.import_module is _recording_import_module:
            importlib.import_module = _original_import_module

    @contextlib.contextmanager
    def capture(self) -> Iterator[list[str]]:
        """Collect, in order, the tracked imports that start inside the block.

        The recorder is put on ``sys.meta_path`` for the block if it was not.
        """
        started: list[str] = []
        was_installed = self.installed
        self.install()
        with self._lock:
            self._captures.append(started)
        try:
            yield started
        finally:
            with self._lock:
                self._captures.remove(started)
            if not was_installed:
                self.uninstall()

    def take_runtime_imports(self) -> list[tuple[str, str]]:
        """The ``(importer, imported)`` pairs seen since the last call."""
        with self._lock:
            taken, self._runtime_imports = self._runtime_imports, []
        return taken


def _module_name(frame: FrameType) -> str | None:
    name = frame.f_globals.get("__name__")
    return name if isinstance(name, str) else None
