"""The client's address for per-address counters (sign-in lock-out, token throttle).

Behind a reverse proxy every request comes from the proxy, so REMOTE_ADDR alone would put all users in one bucket.
X-Forwarded-For is believed only when REMOTE_ADDR is a trusted proxy (``OVDIFF_TRUSTED_PROXIES``), and then only
up to the first hop that is not trusted, read from the right: each trusted proxy appends the address it saw, so
that entry is the client as our outermost proxy saw it. Entries further left are whatever the client sent."""
from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any, Sequence

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(text: str, networks: Sequence[Network]) -> bool:
    address = _address(text)
    return address is not None and any(address in net for net in networks)


def client_ip(request: Any) -> str:
    """REMOTE_ADDR, or, when that is a trusted proxy, the right-most untrusted X-Forwarded-For entry (the
    left-most entry when every hop is trusted). A malformed entry where the client should be falls back to
    REMOTE_ADDR: a misconfigured proxy then shares one bucket rather than letting clients pick their own."""
    meta = getattr(request, "META", None) or {}
    remote = str(meta.get("REMOTE_ADDR", ""))
    networks = _networks(tuple(getattr(settings, "OVDIFF_TRUSTED_PROXIES", ())))
    if not networks or not _trusted(remote, networks):
        return remote
    hops = [h.strip() for h in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            address = _address(hop)
            return str(address) if address is not None else remote
    return str(_address(hops[0])) if hops else remote
