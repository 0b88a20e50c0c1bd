"""Add-ons that live inside other frameworks (``staticreload.contrib.django``: a Django app)."""
