"""The home page."""

from example_wsgi import model


def index(environ: dict[str, object]) -> str:
    return (
        f"Hello from staticreload. The model knows {len(model.FOLLOWING)} identifiers "
        f"and took {model.LOAD_SECONDS:.2f} s to train.\n"
    )
