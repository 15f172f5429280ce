"""Tiny typed readers of the environment.

Settings come only from the environment (12-factor); a malformed value fails at start-up with an
``ImproperlyConfigured`` that names the variable, instead of surfacing later as an odd behaviour.
"""
from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str:
    """A string variable; ``required`` raises when unset or empty."""
    value = _raw(name)
    if value is None or value == "":
        if required or default is None:
            raise ImproperlyConfigured(f"environment variable {name} is required")
        return default
    return value


def env_bool(name: str, default: bool = False) -> bool:
    """1/true/yes/on or 0/false/no/off (case-insensitive)."""
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"environment variable {name} must be a boolean (1/0, true/false), got {value!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """An integer variable, optionally bounded below."""
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        parsed = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"environment variable {name} must be an integer, got {value!r}") from None
    if minimum is not None and parsed < minimum:
        raise ImproperlyConfigured(f"environment variable {name} must be >= {minimum}, got {parsed}")
    return parsed


def env_float(name: str, default: float | None = None, *, minimum: float | None = None,
              maximum: float | None = None) -> float | None:
    """A finite number, optionally bounded (both ends inclusive); unset gives ``default``."""
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        parsed = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"environment variable {name} must be a number, got {value!r}") from None
    if parsed != parsed or parsed in (float("inf"), float("-inf")) \
            or (minimum is not None and parsed < minimum) or (maximum is not None and parsed > maximum):
        raise ImproperlyConfigured(f"environment variable {name} must be a number from {minimum} to {maximum}, "
                                   f"got {value!r}")
    return parsed


def env_list(name: str, default: list[str] | None = None, *, sep: str = ",") -> list[str]:
    """A separated list; blanks are dropped."""
    value = _raw(name)
    if value is None:
        return list(default or [])
    return [part.strip() for part in value.split(sep) if part.strip()]


def env_networks(name: str) -> list[str]:
    """A comma-separated list of IP addresses or networks (``10.0.0.5``, ``10.0.0.0/8``, ``fd00::/8``), normalised
    to CIDR strings; an entry that is neither names the variable."""
    out = []
    for part in env_list(name):
        try:
            out.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ImproperlyConfigured(f"environment variable {name} must list IP addresses or networks "
                                       f"(e.g. 10.0.0.0/8), got {part!r}") from None
    return out


def env_path(name: str, default: Path | str) -> Path:
    """A filesystem path, made absolute (relative paths resolve against the working directory)."""
    value = _raw(name)
    raw = default if value is None or value == "" else value
    if "\x00" in str(raw):
        raise ImproperlyConfigured(f"environment variable {name} contains a NUL byte")
    return Path(raw).expanduser().resolve()


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """A string restricted to ``choices``."""
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"environment variable {name} must be one of {', '.join(choices)}, got {value!r}")
    return value
