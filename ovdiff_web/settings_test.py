"""Settings for the test suite: the real settings module with test-friendly environment defaults.

Defaults only (``setdefault``): a test that sets a variable itself wins. Data lives in a fresh temp dir, the
SQLite test database is a FILE there so a Celery worker subprocess can share it, Redis uses DB 15.
"""
from __future__ import annotations

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("OVDIFF_DATA_DIR", tempfile.mkdtemp(prefix="ovdiff-test-"))
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("OVDIFF_PROFILE", "tiny")
os.environ.setdefault("OVDIFF_TOKEN_RATE", "1000/min")  # tests exchange many tokens; test_auth_hardening lowers it

from ovdiff_web.settings import *  # noqa: E402,F401,F403
from ovdiff_web.settings import DATABASES, OVDIFF_DATA_DIR, STATIC_ROOT  # noqa: E402

STATIC_ROOT.mkdir(parents=True, exist_ok=True)

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(OVDIFF_DATA_DIR / "test.sqlite3")}
# Per test process: concurrent test sessions on the shared Redis must not count each other's failed sign-ins.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; tests never store real users
