"""``manage.py hotrunserver``: runserver's habits, with edits reloaded in place instead of restarts.

Like ``runserver``: an optional ``[addr:]port``, the system checks and the
unapplied-migrations notice at start, static files served in ``DEBUG`` when
``django.contrib.staticfiles`` is installed (``--nostatic``, ``--insecure``),
``--skip-checks``. Unlike it: an edit reloads the modules it affects in the
running process; an edit Django cannot take in place (models, settings,
``apps.py``, migrations) is reported as needing a restart.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import django  # type: ignore[import-untyped]
from django.conf import settings  # type: ignore[import-untyped]
from django.core.management.base import BaseCommand, CommandError  # type: ignore[import-untyped]

from staticreload.config import DEBOUNCE_ENV, DEFAULT_DEBOUNCE_S, resolve_debounce_s
from staticreload.contrib.django.server import run
from staticreload.exceptions import StaticReloadError

__all__ = ["Command"]

DEFAULT_ADDR = "127.0.0.1"
DEFAULT_PORT = 8000
# runserver's own: "8000", "0.0.0.0:8000", "localhost:8000", "[::1]:8000".
_ADDRPORT = re.compile(
    r"^(?:(?P<addr>(?P<ipv4>\d{1,3}(?:\.\d{1,3}){3})|(?P<ipv6>\[[a-fA-F0-9:]+\])"
    r"|(?P<fqdn>[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*)):)?(?P<port>\d+)$"
)


class Command(BaseCommand):  # type: ignore[misc]  # Django has no type hints
    """The ``hotrunserver`` management command."""

    help = (
        "Starts a development server that reloads edited modules in place "
        "(staticreload) instead of restarting."
    )
    requires_system_checks = ()  # checked in handle(), as runserver does
    suppressed_base_arguments = frozenset({"--verbosity", "--traceback"})

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "addrport", nargs="?", help="Optional port number, or ipaddr:port (port 0: any free)"
        )
        parser.add_argument(
            "--nostatic",
            action="store_false",
            dest="use_static_handler",
            help="Do not serve static files (served in DEBUG if staticfiles is installed).",
        )
        parser.add_argument(
            "--insecure",
            action="store_true",
            dest="insecure_serving",
            help="Serve static files even if DEBUG is False.",
        )
        parser.add_argument("--skip-checks", action="store_true", help="Skip system checks.")
        parser.add_argument(
            "--on-error",
            choices=["page", "keep"],
            default="page",
            help="After a failed reload: show an error page (default), or keep the old code.",
        )
        parser.add_argument(
            "--debounce",
            metavar="SECONDS",
            help=f"Quiet time that ends a burst of saves (default ${DEBOUNCE_ENV}, "
            f"else {DEFAULT_DEBOUNCE_S}).",
        )
        parser.add_argument(
            "--watch",
            action="append",
            default=[],
            metavar="DIR",
            help="Another package or folder to reload (the project's apps always are).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not settings.ALLOWED_HOSTS:
            raise CommandError("You must set settings.ALLOWED_HOSTS if DEBUG is False.")
        host, port = _parse_addrport(options["addrport"])
        try:
            debounce_s = resolve_debounce_s(options["debounce"], source="--debounce")
        except StaticReloadError as error:
            raise CommandError(str(error)) from error
        if not options["skip_checks"]:
            self.stdout.write("Performing system checks...\n\n")
            self.check(display_num_errors=True)
        self.check_migrations()
        serve_static = (
            options["use_static_handler"]
            and "django.contrib.staticfiles" in settings.INSTALLED_APPS
            and (settings.DEBUG or options["insecure_serving"])
        )
        self.stdout.write(
            f"Django version {django.get_version()}, using settings {settings.SETTINGS_MODULE!r}\n"
            "Hot reloading with staticreload. Quit the server with CONTROL-C.\n"
        )
        self.stdout.flush()
        with _logging_to_stderr():
            try:
                run(
                    host=host,
                    port=port,
                    serve_static=serve_static,
                    watch=options["watch"],
                    debounce_s=debounce_s,
                    on_error=options["on_error"],
                )
            except (StaticReloadError, OSError) as error:
                raise CommandError(str(error)) from error


def _parse_addrport(addrport: str | None) -> tuple[str, int]:
    """``(host, port)`` from runserver's ``[addr:]port``.

    Raises:
        CommandError: not of that form.
    """
    if not addrport:
        return DEFAULT_ADDR, DEFAULT_PORT
    found = _ADDRPORT.match(addrport)
    if found is None:
        raise CommandError(f'"{addrport}" is not a valid port number or address:port pair.')
    host = found["addr"] or DEFAULT_ADDR
    if found["ipv6"]:
        raise CommandError("IPv6 addresses are not supported by hotrunserver yet.")
    return host, int(found["port"])


@contextlib.contextmanager
def _logging_to_stderr() -> Iterator[None]:
    """staticreload's log lines on stderr while serving, unless logging is configured.

    A command is an entry point: like staticreload's own CLI, it may add a
    handler; the library never does.
    """
    logger = logging.getLogger("staticreload")
    if logger.handlers or logging.getLogger().handlers:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
