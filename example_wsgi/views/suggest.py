"""Next-word suggestions: /suggest?word=import"""

from urllib.parse import parse_qs

from example_wsgi import model


def suggest(environ: dict[str, object]) -> str:
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    word = query.get("word", ["import"])[0]
    return f"after {word!r}: {', '.join(model.suggest(word))}\n"
