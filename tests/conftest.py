"""Shared test setup: offline Hugging Face hub and one tiny model registry per session."""
from __future__ import annotations

import os

# Tests never reach a model hub: set before transformers/diffusers are imported anywhere.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds (full-size random models, long runs)")


@pytest.fixture(scope="session")
def tiny_registry():
    """A ``tiny``-profile ModelRegistry (random seeded models); models load lazily, once per session."""
    from engine.models import ModelRegistry

    return ModelRegistry("tiny")


@pytest.fixture
def media_root(settings, tmp_path):
    """A fresh MEDIA_ROOT and artifact store per test (and nothing else of the machine is writable)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.OVDIFF_STORE_DIR = tmp_path / "store"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture
def user(django_user_model):
    """The signed-in user of service and dashboard tests."""
    return django_user_model.objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def other_user(django_user_model):
    """A second, ordinary user: owns nothing of alice's (access tests)."""
    return django_user_model.objects.create_user("bob", password="pw-bob-123")


@pytest.fixture
def ui_client(client, user, media_root):
    """Django test client signed in as ``alice`` (dashboard pages)."""
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Sign-in failure counters and throttles (the per-process test cache) never leak from one test to the next."""
    yield
    from django.core.cache import cache

    cache.clear()
