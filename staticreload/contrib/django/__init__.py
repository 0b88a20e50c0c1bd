"""A Django app giving ``python manage.py hotrunserver``: runserver's habits, hot reloading.

Add ``"staticreload.contrib.django"`` to ``INSTALLED_APPS``.
"""
