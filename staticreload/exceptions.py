"""The exceptions staticreload raises: one base class, specific subclasses with fields."""

from __future__ import annotations

__all__ = [
    "AppLoadError",
    "ConfigError",
    "ModuleImportError",
    "NotInMapError",
    "PackageNotFoundError",
    "ReloadError",
    "SourceSyntaxError",
    "StaticReloadError",
    "describe",
]


class StaticReloadError(Exception):
    """Base class of every error staticreload raises on purpose."""


class PackageNotFoundError(StaticReloadError):
    """A scan target is neither an importable package nor a directory.

    Attributes:
        target: the target as it was given.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        super().__init__(f"no package or directory named {target!r}")


class NotInMapError(StaticReloadError):
    """A file or module name is not part of the dependency map.

    Attributes:
        item: the path or module name that was asked for.
    """

    def __init__(self, item: str) -> None:
        self.item = item
        super().__init__(f"{item!r} is not a module or file in the dependency map")


class SourceSyntaxError(StaticReloadError):
    """A scanned source file cannot be parsed.

    Attributes:
        path: the file.
        lineno: the 1-based line of the error, or None when unknown.
        reason: the parser's message.
    """

    def __init__(self, path: str, lineno: int | None, reason: str) -> None:
        self.path = path
        self.lineno = lineno
        self.reason = reason
        where = path if lineno is None else f"{path}:{lineno}"
        super().__init__(f"{where}: {reason}")


class ReloadError(StaticReloadError):
    """A reload failed; the previous modules were put back.

    The original exception is chained as ``__cause__``.

    Attributes:
        module: the module being imported or compiled when it failed, or None.
        path: the file the error points at, or None.
        lineno: the 1-based line the error points at, or None.
        reason: a one-line description of the original exception.
    """

    def __init__(
        self,
        reason: str,
        *,
        module: str | None = None,
        path: str | None = None,
        lineno: int | None = None,
    ) -> None:
        self.module = module
        self.path = path
        self.lineno = lineno
        self.reason = reason
        super().__init__(reason)

    def __str__(self) -> str:
        place = self.path or self.module or "<unknown>"
        if self.lineno is not None:
            place = f"{place}:{self.lineno}"
        where = f" (in module {self.module})" if self.module and self.path else ""
        return f"reload failed at {place}{where}: {self.reason}"


class ConfigError(StaticReloadError):
    """An option has a value staticreload cannot use.

    Attributes:
        source: where the value came from: a command-line flag (``--debounce``),
            an environment variable (``STATICRELOAD_DEBOUNCE_S``) or a keyword
            argument (``debounce_s``).
        value: the value as it was given.
        reason: what is wrong with it.
    """

    def __init__(self, source: str, value: object, reason: str) -> None:
        self.source = source
        self.value = value
        self.reason = reason
        super().__init__(f"{source}={value!r}: {reason}")


class ModuleImportError(StaticReloadError):
    """Importing a module again during a reload raised.

    The original exception (any ``BaseException``) is the ``__cause__``; the
    reloader turns this into a :class:`ReloadError` pointing at the failing line.

    Attributes:
        name: the module whose import raised.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"importing {name} failed")


class AppLoadError(StaticReloadError):
    """A WSGI application import string cannot be resolved.

    Attributes:
        target: the import string, ``"package.module:attribute"``.
        reason: why it could not be resolved.
    """

    def __init__(self, target: str, reason: str) -> None:
        self.target = target
        self.reason = reason
        super().__init__(f"cannot load application {target!r}: {reason}")


def describe(error: BaseException) -> str:
    """``"TypeName: first line of the message"``, for one-line reports."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
