"""Failure diagnostics: an exception from the user's code -> a ``ReloadError`` at the right line."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path

from staticreload.exceptions import ModuleImportError, ReloadError, describe

__all__ = ["compile_failure", "import_failure", "is_circular_import"]

ModuleOf = Callable[[str], "str | None"]

# What the import system says when a name is taken from a module whose body
# has not finished running (importlib._bootstrap, Objects/moduleobject.c).
_PARTIAL_INIT = "partially initialized module"


def compile_failure(error: BaseException, path: Path, module: str | None) -> ReloadError:
    """A ``ReloadError`` for a file that cannot be read or compiled.

    Args:
        error: what ``compile()`` or reading raised (``SyntaxError``,
            ``ValueError`` for null bytes, ``RecursionError`` or ``MemoryError``
            for nesting too deep for the compiler, ``OSError``).
        path: the file.
        module: its module name, if known.
    """
    lineno = error.lineno if isinstance(error, SyntaxError) else None
    failure = ReloadError(describe(error), module=module, path=str(path), lineno=lineno)
    failure.__cause__ = error
    return failure


def import_failure(failure: ModuleImportError, module_of: ModuleOf) -> ReloadError:
    """A ``ReloadError`` pointing at the deepest line of the project's code that failed.

    Args:
        failure: what importing the closure raised; its ``__cause__`` is the
            exception from the user's code.
        module_of: file path -> the project's module at that file, or None for
            a file outside the project (the standard library, installed
            packages, staticreload itself).
    """
    cause = failure.__cause__ or failure
    module: str | None = failure.name
    path: str | None = None
    lineno: int | None = None
    if isinstance(cause, SyntaxError) and cause.filename:
        path, lineno = cause.filename, cause.lineno
    for frame, frame_lineno in traceback.walk_tb(cause.__traceback__):
        frame_module = module_of(frame.f_code.co_filename)
        if frame_module is not None:
            module, path, lineno = frame_module, frame.f_code.co_filename, frame_lineno
    if path is not None:
        module = module_of(path) or module
    error = ReloadError(describe(cause), module=module, path=path, lineno=lineno)
    error.__cause__ = cause
    return error


def is_circular_import(error: ReloadError) -> bool:
    """Whether a failed reload hit a module whose body had not finished running.

    That is how an import cycle entered from another side than a fresh start
    shows (``ImportError``/``AttributeError`` naming a *partially initialized
    module*): the sign that the order of the closure, not the code, may be at
    fault.
    """
    cause = error.__cause__
    return isinstance(cause, (ImportError, AttributeError)) and _PARTIAL_INIT in str(cause)
