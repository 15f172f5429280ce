"""Browser-test fixtures: a live Django server, a REAL Celery worker subprocess on the local Redis (DB 14) sharing
the file SQLite test database and MEDIA_ROOT, and a headless system Chromium that may only talk to localhost.

Queues are private to this test session (``OVDIFF_QUEUE_PREFIX``): the live server sends to ``<prefix>gpu`` /
``<prefix>cpu`` and the worker consumes only those, so concurrent sessions on one Redis never take each other's
tasks. Nothing is flushed: only this session's own queue keys are deleted."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Playwright's sync API keeps an event loop in the test thread; the ORM calls in these tests are plain sync code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import pytest  # noqa: E402

BROKER = os.environ.get("OVDIFF_BROWSER_REDIS", "redis://127.0.0.1:6379/14")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
QUEUE_PREFIX = f"browser{os.getpid()}-"


@pytest.fixture
def shared_paths(settings: Any, tmp_path: Path) -> dict[str, Path]:
    """MEDIA_ROOT and the artifact store in a temp dir both processes use."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.OVDIFF_STORE_DIR = tmp_path / "store"
    settings.MEDIA_ROOT.mkdir()
    return {"media": settings.MEDIA_ROOT, "store": settings.OVDIFF_STORE_DIR, "tmp": tmp_path}


@pytest.fixture
def celery_worker(transactional_db: Any, live_server: Any, shared_paths: dict[str, Path],
                  settings: Any) -> Iterator[subprocess.Popen]:
    """``celery worker`` in a subprocess on the test database file; the web side sends to the same broker DB,
    both on this session's private queues."""
    import redis
    from django.db import connection

    from ovdiff_web.celery import app, queue_name

    queues = [f"{QUEUE_PREFIX}gpu", f"{QUEUE_PREFIX}cpu"]
    client = redis.Redis.from_url(BROKER)
    client.delete(*queues)  # leftovers of a crashed earlier session with this pid; other sessions' keys untouched
    with private_celery_conf(app, settings, QUEUE_PREFIX, BROKER):
        assert queue_name("gpu") == queues[0] and queue_name("cpu") == queues[1]
        db_name = connection.settings_dict["NAME"]
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ovdiff_web.settings_test", "REDIS_URL": BROKER,
               "CELERY_RESULT_BACKEND": BROKER, "DATABASE_URL": f"sqlite:///{db_name}",
               "OVDIFF_DATA_DIR": str(settings.OVDIFF_DATA_DIR), "MEDIA_ROOT": str(shared_paths["media"]),
               "OVDIFF_STORE_DIR": str(shared_paths["store"]), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "OVDIFF_PROFILE": "tiny", "OVDIFF_QUEUE_PREFIX": QUEUE_PREFIX}
        log = open(shared_paths["tmp"] / "worker.log", "wb")
        worker_name = f"browser-{os.getpid()}@{socket.gethostname()}"
        proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "ovdiff_web", "worker", "-Q", ",".join(queues),
                                 "--pool=solo", "-c", "1", "-l", "INFO", "--without-mingle", "--without-gossip",
                                 "-n", worker_name],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(f"worker exited: {(shared_paths['tmp'] / 'worker.log').read_text()[-3000:]}")
                if app.control.ping(destination=[worker_name], timeout=0.5):  # our worker, not another session's
                    break
            else:
                raise RuntimeError("worker did not answer a ping within 60 s")
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
            client.delete(*queues)
            worker_log = shared_paths["tmp"] / "worker.log"
            if worker_log.exists():
                (REPO / "test-artifacts").mkdir(exist_ok=True)
                (REPO / "test-artifacts" / "browser-worker.log").write_bytes(worker_log.read_bytes()[-200_000:])


@contextlib.contextmanager
def private_celery_conf(app: Any, settings: Any, prefix: str, broker: str) -> Iterator[None]:
    """Send to ``broker`` on ``<prefix>gpu`` / ``<prefix>cpu`` while inside; on exit the Celery app is as before.

    The live server runs in this process: every send names its queue through queue_name(), which reads
    settings.OVDIFF_QUEUE_PREFIX at call time; routes and default queue follow for any send that does not.
    ``settings`` (pytest-django's fixture) restores itself; the app's conf and the routing Celery derived from
    it are restored here, or a later test in the same session would still route to this prefix."""
    # read before the settings change: the app's conf reads through to Django's settings
    old_conf = {k: app.conf[k] for k in ("broker_url", "result_backend", "task_default_queue", "task_routes")}
    settings.OVDIFF_QUEUE_PREFIX = prefix
    settings.CELERY_TASK_DEFAULT_QUEUE = f"{prefix}cpu"
    settings.CELERY_TASK_ROUTES = {pattern: {"queue": f"{prefix}{route['queue'][-3:]}"}
                                   for pattern, route in settings.CELERY_TASK_ROUTES.items()}
    app.conf.broker_url = broker
    app.conf.result_backend = broker
    app.conf.task_default_queue = f"{prefix}cpu"
    app.conf.task_routes = settings.CELERY_TASK_ROUTES
    _drop_cached_connections(app)  # an earlier test may have opened pools on another broker URL
    _drop_cached_routing(app)  # or built its router from the unprefixed routes
    try:
        yield
    finally:
        for key, value in old_conf.items():
            app.conf[key] = value
        _drop_cached_connections(app)
        _drop_cached_routing(app)


def _drop_cached_connections(app: Any) -> None:
    """Celery caches its connection pool, producer pool and result backend at first use: after changing the
    broker URL they must be rebuilt, or sends would still go to the old broker."""
    app._pool = None
    app.__dict__.get("amqp") and setattr(app.amqp, "_producer_pool", None)
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


def _drop_cached_routing(app: Any) -> None:
    """Celery builds its router (a copy of ``task_routes``), queue table and default queue once, at first use:
    after changing ``task_routes`` / ``task_default_queue`` they must be rebuilt, or they keep the old prefix."""
    app.amqp._rtable = None
    for name in ("router", "queues", "default_queue"):
        app.amqp.__dict__.pop(name, None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class PageWatch:
    """Console errors, failed responses and requests leaving localhost, collected while a page is used."""

    def __init__(self, page: Any) -> None:
        self.console_errors: list[str] = []
        self.outside: list[str] = []
        self.server_errors: list[str] = []
        page.on("console", lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))
        page.on("request", self._request)
        page.on("response", lambda r: self.server_errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)

    def _request(self, request: Any) -> None:
        host = urlparse(request.url).hostname
        if request.url.startswith(("data:", "blob:", "about:")):
            return
        if host not in ("localhost", "127.0.0.1", "::1"):
            self.outside.append(request.url)

    def assert_clean(self) -> None:
        assert not self.outside, f"requests left localhost: {self.outside}"
        assert not self.server_errors, f"server errors: {self.server_errors}"
        # a form re-rendered with field errors answers 400 on purpose; Chromium logs that document status
        errors = [e for e in self.console_errors if "status of 400" not in e]
        assert not errors, f"console errors: {errors}"


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, PageWatch]]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    watch = PageWatch(pg)
    yield pg, watch
    context.close()


def sign_in(pg: Any, base: str, username: str = "alice", password: str = "pw-alice-123") -> None:
    """Sign in through the login form and land on the runs page."""
    pg.goto(f"{base}/login/")
    pg.fill("#id_username", username)
    pg.fill("#id_password", password)
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{base}/runs/")


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "browser: drives a real Chromium against a live server")
