from catalog.models import Book
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request, "pages/home.html", {"greeting": "Welcome", "count": Book.objects.count()}
    )


def contact(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Write to the bookshop.", content_type="text/plain")
