"""Options, each resolved in one small helper: the value given, its environment variable, a default.

The order is the one every tool of this kind uses: a value passed in (a
command-line flag or a keyword argument) wins, then the environment variable,
then the default. A value that cannot be used raises :class:`ConfigError`
naming where it came from, so that the command line can print one line.
"""

from __future__ import annotations

import math
import os

from staticreload.exceptions import ConfigError

__all__ = ["DEBOUNCE_ENV", "DEFAULT_DEBOUNCE_S", "resolve_debounce_s", "seconds"]

# Only bursts that follow a reload wait this long; the first event of a quiet
# spell reloads at once (see staticreload.live). 50 ms covers editors that
# write a file twice or save several files in one go.
DEFAULT_DEBOUNCE_S = 0.05
DEBOUNCE_ENV = "STATICRELOAD_DEBOUNCE_S"


def seconds(value: float | str | None, *, source: str, env: str, default: float) -> float:
    """A non-negative duration in seconds: ``value``, else ``$env``, else ``default``.

    Args:
        value: the value given (a flag's or an argument's), or None.
        source: the flag or argument name, for the error message.
        env: the environment variable consulted when ``value`` is None; an
            empty one counts as unset.
        default: used when neither is set.

    Returns:
        The duration, as a float.

    Raises:
        ConfigError: the value is not a finite, non-negative number; names
            ``source`` or ``env``, whichever the value came from.
    """
    if value is None:
        raw = os.environ.get(env, "")
        if raw == "":
            return float(default)
        value, source = raw, env
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(source, value, "expected a number of seconds") from None
    if not math.isfinite(number) or number < 0:
        raise ConfigError(source, value, "expected a number of seconds, 0 or more")
    return number


def resolve_debounce_s(value: float | str | None = None, *, source: str = "debounce_s") -> float:
    """The debounce window in seconds: ``value``, else ``STATICRELOAD_DEBOUNCE_S``, else 0.05.

    Raises:
        ConfigError: see :func:`seconds`.
    """
    return seconds(value, source=source, env=DEBOUNCE_ENV, default=DEFAULT_DEBOUNCE_S)
