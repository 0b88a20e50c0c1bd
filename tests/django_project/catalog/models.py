from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Book(models.Model):
    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    price_cents = models.PositiveIntegerField()
    published = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ("title",)

    def __str__(self) -> str:
        return self.title

    def label(self) -> str:
        return f"{self.title} by {self.author}"
