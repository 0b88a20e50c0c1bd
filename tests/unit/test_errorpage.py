"""The error page and the one loopback policy."""

from __future__ import annotations

import pytest

from staticreload.errorpage import error_page, is_loopback
from staticreload.exceptions import ReloadError


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.5.5", True),  # all of 127.0.0.0/8
        ("::1", True),
        ("::ffff:127.0.0.1", True),  # an IPv4 client seen by a dual-stack socket
        ("localhost", True),
        ("LocalHost", True),
        ("10.0.0.1", False),
        ("192.0.2.10", False),
        ("0.0.0.0", False),  # every interface: reachable from elsewhere
        ("::", False),
        ("::ffff:10.0.0.1", False),
        ("", False),
        ("garbage", False),
        ("localhost.example.com", False),
        ("127.0.0.1:8000", False),
    ],
)
def test_is_loopback(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def failure() -> ReloadError:
    try:
        raise ValueError("<boom>")
    except ValueError as cause:
        error = ReloadError("ValueError: <boom>", module="web.views", path="/p/views.py", lineno=3)
        error.__cause__ = cause
    return error


def test_a_loopback_client_gets_the_file_line_reason_and_traceback_escaped() -> None:
    page = error_page(failure(), client="::1")
    assert page.status_line == "500 Internal Server Error"
    assert page.content_type == "text/html; charset=utf-8"
    body = page.body.decode()
    assert "<b>/p/views.py, line 3</b>" in body
    assert "Traceback (most recent call last)" in body
    assert "&lt;boom&gt;" in body and "<boom>" not in body
    assert ("Content-Length", str(len(page.body))) in page.headers


@pytest.mark.parametrize("client", ["10.0.0.1", "", "garbage"])
def test_any_other_client_gets_a_plain_500(client: str) -> None:
    page = error_page(failure(), client=client)
    assert page.status_line == "500 Internal Server Error"
    assert page.body == b"Internal Server Error\n"
    assert page.headers == [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(page.body))),
    ]


def test_an_error_without_a_place_or_cause_still_renders() -> None:
    page = error_page(ReloadError("it broke"), client="127.0.0.1")
    assert b"it broke" in page.body
