"""Shared test setup: offline Hugging Face hub and one tiny model registry per session."""
from __future__ import annotations

import os
import sys

# Tests never reach a model hub: set before transformers/diffusers are imported anywhere.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Under pytest-xdist every worker is one process per core: torch's (and ONNX Runtime's, which follows it) own thread
# pool on top oversubscribes the cores, and OpenMP's spinning threads then burn the time the other worker needs
# (measured: two workers on tests/engine/test_pipeline.py + test_sampling.py, 49 s with 2 threads each, 13 s with 1).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest  # noqa: E402


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER") and "torch" in sys.modules:  # imported before this file by a plugin
        sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    config.addinivalue_line("markers", "xdist_group(name): run in one worker with the rest of its group")
    config.pluginmanager.register(_Groups(), "ovdiff-test-groups")
    config.addinivalue_line("markers", "slow: takes more than a few seconds (full-size random models, long runs)")


# Tests that must run in one process, one after another (``make test`` runs ``--dist loadgroup``): they share a
# session fixture too costly to build twice (the profile's run of the photo set, Chromium and its worker, a Label
# Studio server) or flush Redis databases that another of them uses (the reliability tests with their own workers).
GROUPS = {
    "tests/engine/real/test_dino_backend.py": "photo-set",
    "tests/engine/real/test_photo_set_real.py": "photo-set",
    "tests/engine/real/test_photo_maskcut_real.py": "photo-set",
    "tests/browser/": "browser",
    "tests/integrations/test_label_studio": "label-studio",
    **{f"tests/reliability/test_{m}.py": "reliability-workers"
       for m in ("broker", "fair_and_stalled", "load", "media_object_store", "scale_out", "worker_kill")},
}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Groups:
    """Marks GROUPS' tests before pytest-xdist (a plain hook) reads the marks to group them."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            path = os.path.relpath(str(item.path), ROOT).replace(os.sep, "/")
            for prefix, group in GROUPS.items():
                if path.startswith(prefix):
                    item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(trylast=True)  # after the folders' own hooks have marked their tests slow
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest work first, in a stable order: the grouped tests, then the rest marked slow (or end-to-end), then
    the quick ones, so the two workers start on the long ones at once instead of one of them finishing a minute-long
    test alone at the end."""
    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("xdist_group"):
            return 0
        return 1 if any(item.get_closest_marker(m) for m in ("slow", "e2e", "browser")) else 2

    items.sort(key=rank)


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

