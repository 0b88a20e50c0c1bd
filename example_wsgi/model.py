"""The slow part: a next-word model of Python identifiers, trained at import time.

It reads the standard library's source and counts which identifier follows
which: real work that takes a second or two, as loading a real model would.
Edits to views never run this again under staticreload; a restart would.

If the environment variable ``EXAMPLE_WSGI_LOAD_LOG`` names a file, each
training run appends a line to it (the end-to-end tests count them).
"""

from __future__ import annotations

import collections
import itertools
import os
import re
import sysconfig
import time
from pathlib import Path

IDENTIFIER = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
CORPUS_FILES = 2000  # enough source for about 1.5 s of training on a 2-core machine


def _train(files: list[Path]) -> dict[bytes, collections.Counter[bytes]]:
    following: dict[bytes, collections.Counter[bytes]] = collections.defaultdict(
        collections.Counter
    )
    for path in files:
        words = IDENTIFIER.findall(path.read_bytes())
        for word, next_word in itertools.pairwise(words):
            following[word][next_word] += 1
    return dict(following)


def _corpus() -> list[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    sources = (path for path in stdlib.rglob("*.py") if "site-packages" not in path.parts)
    return sorted(sources)[:CORPUS_FILES]


_started = time.perf_counter()
FILES = _corpus()
FOLLOWING = _train(FILES)
LOAD_SECONDS = time.perf_counter() - _started

if os.environ.get("EXAMPLE_WSGI_LOAD_LOG"):
    with open(os.environ["EXAMPLE_WSGI_LOAD_LOG"], "a", encoding="utf-8") as log:
        log.write(f"trained in {LOAD_SECONDS:.3f} s\n")


def suggest(word: str, count: int = 5) -> list[str]:
    """The identifiers that most often follow ``word`` in the corpus."""
    counter = FOLLOWING.get(word.encode(), collections.Counter())
    return [next_word.decode() for next_word, _ in counter.most_common(count)]
