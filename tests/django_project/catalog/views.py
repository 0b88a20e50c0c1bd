from django.db.models import QuerySet
from django.views.generic import DetailView, ListView

from catalog.models import Book


class BookListView(ListView):
    model = Book
    context_object_name = "books"

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        context = super().get_context_data(**kwargs)
        context["heading"] = "All books"
        return context


class BookDetailView(DetailView):
    model = Book
    context_object_name = "book"


class YearListView(BookListView):
    def get_queryset(self) -> QuerySet[Book]:
        return super().get_queryset().filter(published=self.kwargs["year"])

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        context = super().get_context_data(**kwargs)
        context["heading"] = f"Books of {self.kwargs['year']}"
        return context
