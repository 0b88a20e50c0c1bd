"""A FastAPI application for the ASGI tests and benchmark, copied into tmp folders and edited.

Routers in their own modules, a dependency, pydantic schemas, SQLModel on
SQLite, and a lifespan (in a module of its own) that loads a "model" slowly
and records each start and stop in the file named by ``ASGI_APP_LIFESPAN_LOG``.
"""
