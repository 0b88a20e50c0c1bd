"""Options resolved flag -> environment variable -> default, and the errors naming the culprit."""

from __future__ import annotations

import pytest

from staticreload.config import DEBOUNCE_ENV, DEFAULT_DEBOUNCE_S, resolve_debounce_s
from staticreload.exceptions import ConfigError


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        (None, None, DEFAULT_DEBOUNCE_S),
        (None, "", DEFAULT_DEBOUNCE_S),  # an empty variable counts as unset
        (None, "0.2", 0.2),
        (None, "0", 0.0),
        (0.5, None, 0.5),
        (0.5, "0.2", 0.5),  # the flag wins
        (0.5, "abc", 0.5),  # a bad variable is never read when the flag is given
        ("1.5", None, 1.5),  # a flag's string
        (0, None, 0.0),
    ],
)
def test_resolution_order(
    monkeypatch: pytest.MonkeyPatch, value: float | str | None, env: str | None, expected: float
) -> None:
    if env is None:
        monkeypatch.delenv(DEBOUNCE_ENV, raising=False)
    else:
        monkeypatch.setenv(DEBOUNCE_ENV, env)
    resolved = resolve_debounce_s(value, source="--debounce")
    assert resolved == expected and isinstance(resolved, float)


@pytest.mark.parametrize(
    "value", [-1, -0.01, "-1", float("nan"), "nan", float("inf"), "inf", "abc"]
)
def test_a_bad_value_names_the_flag(monkeypatch: pytest.MonkeyPatch, value: float | str) -> None:
    monkeypatch.setenv(DEBOUNCE_ENV, "0.2")  # good, and not consulted
    with pytest.raises(ConfigError) as raised:
        resolve_debounce_s(value, source="--debounce")
    assert raised.value.source == "--debounce"
    assert repr(raised.value.value) == repr(value)  # repr: nan != nan
    assert str(raised.value).startswith("--debounce=")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("raw", ["abc", "-1", "nan", "inf", " ", "1e400"])
def test_a_bad_variable_names_the_variable(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(DEBOUNCE_ENV, raw)
    with pytest.raises(ConfigError) as raised:
        resolve_debounce_s(None, source="--debounce")
    assert raised.value.source == DEBOUNCE_ENV
    assert raised.value.value == raw
    assert str(raised.value).startswith(f"{DEBOUNCE_ENV}=")


def test_the_default_source_is_the_keyword_argument() -> None:
    with pytest.raises(ConfigError, match=r"^debounce_s=-1: "):
        resolve_debounce_s(-1)
