"""Integration tests: the service fixtures (token clients for alice, anonymous) and a real Label Studio."""
from __future__ import annotations

from tests.service.conftest import anon, api  # noqa: F401  (fixtures)
