"""Authentication hardening: a Content-Security-Policy on every response, a lock-out after repeated failed sign-ins
(dashboard, admin and token endpoint alike) and a throttled token exchange that renews expired tokens
(expiry itself: ``ovdiff_web.token_auth``).

Counters live in Django's cache (Redis in a deployment, so all web processes share them). A cache outage never
locks anyone out or fails a request: the guard then lets authentication proceed as without it."""
from __future__ import annotations

import hashlib
import logging
from typing import Any, Callable

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from ovdiff_web.client_address import client_ip
from ovdiff_web.token_auth import token_expired
from django.contrib.auth import get_user_model

log = logging.getLogger("ovdiff.security")

# Only the project's own (vendored) files run; the API docs' bundled viewers need their inline bootstrap script.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")
CSP_API_DOCS = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'") + "; worker-src 'self' blob:"
API_DOCS = ("/api/docs/", "/api/redoc/")


class ContentSecurityPolicyMiddleware:
    """Adds ``Content-Security-Policy`` unless a view set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = CSP_API_DOCS if request.path in API_DOCS else CSP
        return response


# --- lock-out after repeated failed sign-ins ------------------------------------------------------------------

def _key(kind: str, value: str) -> str:
    return f"ovdiff:login-fail:{kind}:{hashlib.sha256(value.lower().encode()).hexdigest()[:32]}"


def _keys(request: Any, username: str) -> list[str]:
    keys = [_key("user", username or "")]
    ip = client_ip(request)
    if ip:
        keys.append(_key("ip", ip))
    return keys


IP_FACTOR = 5  # an address (maybe a proxy many people share) may fail this many times more than one username


def is_locked(request: Any, username: str) -> bool:
    """True when the username failed OVDIFF_LOGIN_MAX_FAILURES times within OVDIFF_LOGIN_LOCKOUT_S, or the client
    address IP_FACTOR times as often (password spraying over many usernames)."""
    limit = settings.OVDIFF_LOGIN_MAX_FAILURES
    try:
        counts = cache.get_many(_keys(request, username))
    except Exception:  # cache down: fail open, never lock everyone out
        return False
    return any(int(v) >= (limit * IP_FACTOR if ":ip:" in k else limit) for k, v in counts.items())


def record_failure(request: Any, username: str) -> None:
    for key in _keys(request, username):
        try:
            if not cache.add(key, 1, settings.OVDIFF_LOGIN_LOCKOUT_S):
                cache.incr(key)
        except Exception:
            return


class LockoutModelBackend(ModelBackend):
    """ModelBackend that refuses every attempt for a locked username or client address (even a right password)."""

    def authenticate(self, request: Any, username: str | None = None, password: str | None = None,
                     **kwargs: Any) -> Any:
        name = username if username is not None else kwargs.get(self._username_field(), "")
        if is_locked(request, str(name or "")):
            log.warning("sign-in refused: too many failures for this user or address")
            raise PermissionDenied("too many failed sign-ins; try again later")
        return super().authenticate(request, username=username, password=password, **kwargs)

    @staticmethod
    def _username_field() -> str:

        return get_user_model().USERNAME_FIELD


@receiver(user_login_failed)
def _on_failure(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    record_failure(request, str(credentials.get("username", "")))


@receiver(user_logged_in)
def _on_success(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    try:
        cache.delete(_key("user", user.get_username()))
    except Exception:
        pass


# --- API tokens: throttled exchange, expiry -------------------------------------------------------------------

class FailOpenThrottle(AnonRateThrottle):
    """Per-address rate on the token endpoint (``auth`` scope); a cache outage does not fail the request."""

    scope = "auth"

    def get_ident(self, request: Any) -> str:
        """The client address (``ovdiff_web.client_address``): DRF's own reads X-Forwarded-For from anyone."""
        return client_ip(request)

    def allow_request(self, request: Any, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:
            return True


class ObtainExpiringToken(ObtainAuthToken):
    """``POST /api/auth/token/``: throttled; an expired token is replaced by a new one."""

    throttle_classes = [FailOpenThrottle]

    def post(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        username = request.data.get("username", "") if hasattr(request.data, "get") else ""
        if is_locked(request, str(username)):
            raise exceptions.Throttled(detail="too many failed sign-ins for this user or address; try again later")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        token, _ = Token.objects.get_or_create(user=user)
        if token_expired(token):
            token.delete()
            token = Token.objects.create(user=user)
        return Response({"token": token.key})
