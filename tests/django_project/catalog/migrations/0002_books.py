"""Data: a few books, and an administrator (admin / admin) for the development site."""

from django.contrib.auth.hashers import make_password
from django.db import migrations

BOOKS = (
    ("Ursula K. Le Guin", "A Wizard of Earthsea", 1099, 1968),
    ("Ursula K. Le Guin", "The Dispossessed", 1499, 1974),
    ("Italo Calvino", "Invisible Cities", 1250, 1972),
)


def add_books(apps, schema_editor) -> None:
    Author = apps.get_model("catalog", "Author")
    Book = apps.get_model("catalog", "Book")
    for name, title, price_cents, published in BOOKS:
        author, _ = Author.objects.get_or_create(name=name)
        Book.objects.create(
            title=title, author=author, price_cents=price_cents, published=published
        )
    User = apps.get_model("auth", "User")
    User.objects.create(
        username="admin", password=make_password("admin"), is_staff=True, is_superuser=True
    )


class Migration(migrations.Migration):
    dependencies = (("catalog", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length"))

    operations = (migrations.RunPython(add_books, migrations.RunPython.noop),)
