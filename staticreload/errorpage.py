"""The 500 page for a failed reload, and the one policy on who may see it: loopback clients."""

from __future__ import annotations

import html
import ipaddress
import traceback
from dataclasses import dataclass
from http import HTTPStatus

from staticreload.exceptions import ReloadError

__all__ = ["ErrorPage", "error_page", "is_loopback"]

# The page shows file names, source lines and a traceback: fine for the
# developer at this machine, a leak to anyone else.
_PLAIN_BODY = b"Internal Server Error\n"


def is_loopback(address: str) -> bool:
    """Whether an address is this machine's own: the whole policy on who sees details.

    Used both for a client's address (who gets the error page) and for the
    address a server binds (whether to warn that others can reach it).

    Args:
        address: an IPv4 or IPv6 address (``"127.0.0.1"``, ``"::1"``, an
            IPv4-mapped ``"::ffff:127.0.0.1"``), or the name ``"localhost"``.

    Returns:
        True for ``localhost`` and any loopback address (all of 127.0.0.0/8,
        ``::1``); False for anything else, including what is not an address.
    """
    if address.lower() == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return ip.is_loopback


@dataclass(frozen=True)
class ErrorPage:
    """A response, independent of the server protocol (WSGI, ASGI).

    Attributes:
        status: the HTTP status.
        content_type: the ``Content-Type`` header's value.
        body: the response body.
    """

    status: HTTPStatus
    content_type: str
    body: bytes

    @property
    def status_line(self) -> str:
        """``"500 Internal Server Error"``, as WSGI's ``start_response`` takes it."""
        return f"{self.status.value} {self.status.phrase}"

    @property
    def headers(self) -> list[tuple[str, str]]:
        """``Content-Type`` and ``Content-Length``."""
        return [("Content-Type", self.content_type), ("Content-Length", str(len(self.body)))]


def error_page(error: ReloadError, *, client: str) -> ErrorPage:
    """The 500 response for a failed reload: details for a loopback client only.

    Args:
        error: the failure; its ``__cause__`` is the original exception.
        client: the client's address (WSGI's ``REMOTE_ADDR``), judged by
            :func:`is_loopback`.

    Returns:
        For a loopback client, an HTML page naming the file, line and reason,
        with the traceback; for any other, a plain ``Internal Server Error``.
    """
    status = HTTPStatus.INTERNAL_SERVER_ERROR
    if not is_loopback(client):
        return ErrorPage(status, "text/plain; charset=utf-8", _PLAIN_BODY)
    cause = error.__cause__ or error
    trace = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
    where = error.path or error.module or ""
    if error.lineno is not None:
        where += f", line {error.lineno}"
    body = (
        "<!doctype html><title>Reload failed</title>"
        "<h1>Reload failed: the last good code is still loaded</h1>"
        f"<p><b>{html.escape(where)}</b></p><p>{html.escape(str(error))}</p>"
        f"<pre>{html.escape(trace)}</pre>"
        "<p>Fix the file and save: the next good edit recovers.</p>"
    )
    return ErrorPage(status, "text/html; charset=utf-8", body.encode())
