from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class BannerMiddleware:
    """Gives every request the banner the base template shows."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.banner = "Open every day"  # type: ignore[attr-defined]
        return self.get_response(request)
