"""The WSGI application: a route table over the view modules."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from example_wsgi.views import home, suggest

View = Callable[[dict[str, Any]], str]

ROUTES: dict[str, View] = {
    "/": home.index,
    "/suggest": suggest.suggest,
}


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    view = ROUTES.get(environ.get("PATH_INFO", "/"))
    if view is None:
        status, body = "404 Not Found", "not found\n"
    else:
        status, body = "200 OK", view(environ)
    data = body.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))]
    )
    return [data]
