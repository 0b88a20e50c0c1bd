"""The root URLconf: each app's URLs, and the admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("pages.urls")),
    path("books/", include("catalog.urls")),
    path("notes/", include("notes.urls")),
    path("admin/", admin.site.urls),
]
