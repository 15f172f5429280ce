"""API tokens that expire (OVDIFF_TOKEN_TTL_HOURS; 0 = never). Its own module: DRF imports authentication classes
while it builds its views, so this must not import any view."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


def token_expired(token: Token) -> bool:
    hours = settings.OVDIFF_TOKEN_TTL_HOURS
    return bool(hours) and timezone.now() - token.created > timedelta(hours=hours)


class ExpiringTokenAuthentication(TokenAuthentication):
    """Token authentication that refuses tokens older than OVDIFF_TOKEN_TTL_HOURS."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            raise exceptions.AuthenticationFailed("token expired; obtain a new one at /api/auth/token/")
        return user, token
