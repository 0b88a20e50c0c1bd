from django.urls import path, register_converter

from catalog import converters, views

register_converter(converters.FourDigitYearConverter, "yyyy")

app_name = "catalog"

urlpatterns = [
    path("", views.BookListView.as_view(), name="list"),
    path("<int:pk>/", views.BookDetailView.as_view(), name="detail"),
    path("year/<yyyy:year>/", views.YearListView.as_view(), name="year"),
]
