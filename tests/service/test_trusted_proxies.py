"""OVDIFF_TRUSTED_PROXIES: per-address lock-out and token throttle key on the real client behind a trusted reverse
proxy, and a client that is not a trusted proxy gains nothing by sending X-Forwarded-For."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from ovdiff_web import env
from ovdiff_web.client_address import client_ip
from ovdiff_web.security import IP_FACTOR, FailOpenThrottle

PROXY = "10.0.0.2"


@pytest.fixture(autouse=True)
def _fresh_counters() -> Any:
    cache.clear()
    yield
    cache.clear()


def _request(remote: str, xff: str | None = None) -> Any:
    meta = {"REMOTE_ADDR": remote}
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    return SimpleNamespace(META=meta)


def test_without_trusted_proxies_forwarded_for_is_ignored(settings: Any) -> None:
    settings.OVDIFF_TRUSTED_PROXIES = []
    assert client_ip(_request(PROXY, "203.0.113.7")) == PROXY
    assert client_ip(_request("198.51.100.1")) == "198.51.100.1"


@pytest.mark.parametrize(("remote", "xff", "expected"), [
    (PROXY, "203.0.113.7", "203.0.113.7"),                        # one proxy
    (PROXY, "1.2.3.4, 203.0.113.7", "203.0.113.7"),               # the client wrote 1.2.3.4 itself
    (PROXY, "1.2.3.4, 203.0.113.7, 10.9.9.9", "203.0.113.7"),     # two trusted hops
    (PROXY, "10.1.1.1, 10.9.9.9", "10.1.1.1"),                    # every hop trusted: the left-most
    (PROXY, "", PROXY),                                            # nothing forwarded
    (PROXY, "1.2.3.4, not-an-ip", PROXY),                          # malformed where the client should be
    ("198.51.100.1", "203.0.113.7", "198.51.100.1"),              # not from a trusted proxy
    ("fd00::5", "2001:db8::7", "2001:db8::7"),                      # IPv6 proxy network
])
def test_client_address_behind_trusted_proxies(settings: Any, remote: str, xff: str, expected: str) -> None:
    settings.OVDIFF_TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]
    assert client_ip(_request(remote, xff)) == expected


def test_setting_rejects_what_is_not_an_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVDIFF_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16,fd00::/8")
    assert env.env_networks("OVDIFF_TRUSTED_PROXIES") == ["10.0.0.1/32", "192.168.0.0/16", "fd00::/8"]
    monkeypatch.setenv("OVDIFF_TRUSTED_PROXIES", "10.0.0.1, proxy.local")
    with pytest.raises(ImproperlyConfigured, match="OVDIFF_TRUSTED_PROXIES.*proxy.local"):
        env.env_networks("OVDIFF_TRUSTED_PROXIES")


def _token(remote: str, xff: str, username: str) -> int:
    return APIClient().post("/api/auth/token/", {"username": username, "password": "wrong"}, format="json",
                            REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=xff).status_code


@pytest.mark.django_db
def test_spoofed_forwarded_for_gains_nothing(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An untrusted client inventing a new X-Forwarded-For per request is still one address: throttled, then
    locked out, exactly as without the header."""
    settings.OVDIFF_TRUSTED_PROXIES = [f"{PROXY}/32"]
    settings.OVDIFF_LOGIN_MAX_FAILURES = 1000
    monkeypatch.setattr(FailOpenThrottle, "THROTTLE_RATES", {"auth": "4/min"})
    codes = [_token("198.51.100.1", f"203.0.113.{i}", f"u{i}") for i in range(6)]
    assert codes == [400] * 4 + [429, 429]

    cache.clear()
    settings.OVDIFF_LOGIN_MAX_FAILURES = 2
    monkeypatch.setattr(FailOpenThrottle, "THROTTLE_RATES", {"auth": "1000/min"})
    codes = [_token("198.51.100.1", f"203.0.113.{i}", f"spray{i}") for i in range(2 * IP_FACTOR + 1)]
    assert codes[:2 * IP_FACTOR] == [400] * (2 * IP_FACTOR) and codes[-1] == 429  # the address is locked


@pytest.mark.django_db
def test_clients_behind_a_trusted_proxy_have_their_own_counters(settings: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    settings.OVDIFF_TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.OVDIFF_LOGIN_MAX_FAILURES = 1000
    monkeypatch.setattr(FailOpenThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    assert [_token(PROXY, "203.0.113.7", f"a{i}") for i in range(4)] == [400, 400, 400, 429]
    assert _token(PROXY, "203.0.113.8", "b0") == 400  # another client through the same proxy
    assert _token(PROXY, "203.0.113.7, 10.1.2.3", "a9") == 429  # the same client via a second trusted hop

    cache.clear()
    settings.OVDIFF_LOGIN_MAX_FAILURES = 2
    monkeypatch.setattr(FailOpenThrottle, "THROTTLE_RATES", {"auth": "1000/min"})
    assert all(_token(PROXY, "203.0.113.7", f"spray{i}") == 400 for i in range(2 * IP_FACTOR))
    assert _token(PROXY, "203.0.113.7", "spray-next") == 429  # this client's address is locked
    assert _token(PROXY, "203.0.113.8", "other-user") == 400  # its neighbour behind the proxy is not
