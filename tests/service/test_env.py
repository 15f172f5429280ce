"""ovdiff_web.env: typed readers whose errors name the offending variable."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from ovdiff_web import env


def test_bool_int_list_path_parse(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("X_BOOL", "Yes")
    monkeypatch.setenv("X_INT", " 42 ")
    monkeypatch.setenv("X_LIST", "a, b,,c ")
    monkeypatch.setenv("X_PATH", str(tmp_path / "sub" / ".." / "d"))
    assert env.env_bool("X_BOOL") is True
    assert env.env_int("X_INT", 0) == 42
    assert env.env_list("X_LIST") == ["a", "b", "c"]
    assert env.env_path("X_PATH", "/nope") == (tmp_path / "d").resolve()
    assert env.env_int("X_UNSET_INT", 7) == 7
    assert env.env_bool("X_UNSET_BOOL", True) is True


@pytest.mark.parametrize(("func", "value"), [(lambda: env.env_bool("X_BAD"), "maybe"),
                                             (lambda: env.env_int("X_BAD", 1), "4.5"),
                                             (lambda: env.env_int("X_BAD", 1, minimum=5), "3"),
                                             (lambda: env.env_choice("X_BAD", "a", ("a", "b")), "c")])
def test_malformed_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, func, value: str) -> None:
    monkeypatch.setenv("X_BAD", value)
    with pytest.raises(ImproperlyConfigured, match="X_BAD"):
        func()


def test_required_string(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("X_REQ", raising=False)
    with pytest.raises(ImproperlyConfigured, match="X_REQ"):
        env.env_str("X_REQ", required=True)


def test_log_filter_redacts_credentials() -> None:
    from ovdiff_web.logfilters import redact

    text = redact("broker redis://user:s3cr3t@host:6379/0 and token=abcdef123 password: hunter2")
    assert "s3cr3t" not in text and "abcdef123" not in text and "hunter2" not in text
    assert "redis://user:***@host" in text
