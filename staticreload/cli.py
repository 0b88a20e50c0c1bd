"""The ``staticreload`` command: ``map`` and ``serve``."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from staticreload import __version__
from staticreload.config import DEBOUNCE_ENV, DEFAULT_DEBOUNCE_S, resolve_debounce_s
from staticreload.dependency_map import DependencyMap
from staticreload.exceptions import AppLoadError, ConfigError, StaticReloadError
from staticreload.serving import DEFAULT_HOST, DEFAULT_PORT, serve
from staticreload.wsgi import DEFAULT_IMPORT_TIMEOUT_S, IMPORT_TIMEOUT_ENV, resolve_import_timeout_s

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2  # argparse's own code for bad arguments; also a bad serve target or option

logger = logging.getLogger("staticreload")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="staticreload", description="Hot module reloading driven by a static import graph."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    commands = parser.add_subparsers(dest="command", required=True)

    map_ = commands.add_parser(
        "map", help="print the import graph as JSON (never imports the analysed code)"
    )
    map_.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help="package names or directories (default: everything under --root)",
    )
    map_.add_argument("--direction", choices=["dependencies", "dependents"], default="dependencies")
    map_.add_argument(
        "--closure",
        action="append",
        metavar="PATH_OR_MODULE",
        help="print only the sorted closure (the item and all its dependents)",
    )
    map_.add_argument("--keys", choices=["files", "modules"], default="files")
    map_.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    map_.add_argument(
        "--root",
        metavar="DIR",
        default=".",
        help="project root: where targets are looked for, and what paths are "
        "relative to (default: the current directory)",
    )
    map_.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    map_.set_defaults(run=_run_map)

    serve = commands.add_parser(
        "serve", help="serve a WSGI application, reloading its modules as files change"
    )
    serve.add_argument("target", metavar="TARGET", help="package.module:attribute")
    serve.add_argument(
        "--factory",
        action="store_true",
        help="TARGET is an application factory, called after each reload",
    )
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    serve.add_argument(
        "--watch",
        action="append",
        metavar="DIR",
        help="a folder or package to reload (default: the application's package)",
    )
    serve.add_argument(
        "--debounce",
        metavar="SECONDS",  # checked by config.resolve_debounce_s: one line naming the flag
        help="quiet time that ends a burst of saves "
        f"(default ${DEBOUNCE_ENV}, else {DEFAULT_DEBOUNCE_S})",
    )
    serve.add_argument(
        "--on-error",
        choices=["page", "keep"],
        default="page",
        help="after a failed reload: show an error page, or keep the old app",
    )
    serve.add_argument(
        "--restart-on",
        action="append",
        default=[],
        metavar="GLOB",
        help="apply changes to matching files by a restart instead of a reload (repeatable)",
    )
    serve.add_argument(
        "--import-timeout",
        metavar="SECONDS",  # checked by resolve_import_timeout_s: one line naming the flag
        help="report an import running longer than this; the next edit restarts "
        f"(default ${IMPORT_TIMEOUT_ENV}, else {DEFAULT_IMPORT_TIMEOUT_S:g}; 0: no limit)",
    )
    serve.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    serve.set_defaults(run=_run_serve)
    return parser


def _run_map(args: argparse.Namespace) -> int:
    dependency_map = DependencyMap.build(*args.targets, root=args.root)
    output: object
    if args.closure:
        modules = dependency_map.closure(args.closure)
        if args.keys == "files":
            output = sorted(dependency_map.display_path(module) for module in modules)
        else:
            output = sorted(modules)
    else:
        output = dependency_map.to_dict(direction=args.direction, keys=args.keys)
    text = json.dumps(output, indent=2, sort_keys=True) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _run_serve(args: argparse.Namespace) -> int:
    serve(
        args.target,
        factory=args.factory,
        host=args.host,
        port=args.port,
        targets=args.watch,
        # Resolved here, not in serve: an error must name the flag, not the argument.
        debounce_s=resolve_debounce_s(args.debounce, source="--debounce"),
        on_error=args.on_error,
        restart_on=args.restart_on,
        import_timeout_s=resolve_import_timeout_s(args.import_timeout, source="--import-timeout"),
        debug=args.debug,
    )
    # The process ends next. Its final garbage collections would walk every
    # object the application holds: stopping example_wsgi took 1.0-1.3 s on an
    # idle 2-core machine and up to 6.8 s on a loaded one, against 0.03-0.14 s
    # frozen. Frozen objects are still freed and finalised (files flushed,
    # __del__ run); only the collector's walk is skipped. (The application now
    # lives in the worker, which freezes too; this process holds little.)
    gc.freeze()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: the arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The exit code: 0 on success (``serve`` stopped by SIGINT or SIGTERM
        included), 1 on an error, 2 on bad arguments, a bad option value (flag
        or environment variable) or a bad application target.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        return EXIT_OK
    except (StaticReloadError, OSError) as error:
        if args.debug:
            traceback.print_exc()
        print(f"staticreload: error: {error}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, (AppLoadError, ConfigError)) else EXIT_ERROR
    return code
