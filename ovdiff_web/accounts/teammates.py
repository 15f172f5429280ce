"""Adding a teammate: one user account with a username and an initial password (typed, or generated and shown
once), optionally staff. The staff-only "Team" page and ``manage.py add_teammate`` both call ``add_teammate``;
each addition is in the audit trail. Sharing with the new teammate is the usual ``accounts.sharing``."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ovdiff_web.accounts import audit
from ovdiff_web.common.errors import ServiceError

GENERATED_BYTES = 12  # secrets.token_urlsafe(12): 16 characters


class TeammateRefused(ServiceError, ValueError):
    """The username or password cannot be used: a 400 naming ``field``."""

    code = "teammate_refused"


@dataclass(frozen=True)
class NewTeammate:
    user: Any
    password: str
    generated: bool  # True: nobody chose it, show it once


def generate_password() -> str:
    return secrets.token_urlsafe(GENERATED_BYTES)


def add_teammate(username: str, *, password: str | None = None, staff: bool = False, by: Any = None,
                 email: str = "") -> NewTeammate:
    """Create an active user ``username`` (``password`` None or blank: a generated one); ``TeammateRefused`` naming
    the field when the name is invalid or taken or the password too weak, and then nothing is created."""
    User = get_user_model()  # noqa: N806
    username = (username or "").strip()
    if not username:
        raise TeammateRefused("give a username", "username")
    name_field = User._meta.get_field(User.USERNAME_FIELD)
    try:
        name_field.run_validators(username)
        if len(username) > name_field.max_length:
            raise ValidationError(f"at most {name_field.max_length} characters")
    except ValidationError as exc:
        raise TeammateRefused(" ".join(exc.messages), "username") from None
    if User.objects.filter(**{f"{User.USERNAME_FIELD}__iexact": username}).exists():
        raise TeammateRefused(f"the username {username!r} is taken", "username")
    generated = not password
    password = password or generate_password()
    try:
        validate_password(password, User(**{User.USERNAME_FIELD: username, "email": email}))
    except ValidationError as exc:
        raise TeammateRefused(" ".join(exc.messages), "password") from None
    try:
        with transaction.atomic():
            user = User.objects.create_user(username, email=email or "", password=password, is_staff=bool(staff))
            audit.record(by, user, "add_teammate", {"username": [None, username], "is_staff": [None, bool(staff)]})
    except IntegrityError:  # a parallel add took the name
        raise TeammateRefused(f"the username {username!r} is taken", "username") from None
    return NewTeammate(user=user, password=password, generated=generated)


def teammates() -> Any:
    """Every account, for the staff page: active first, then by name."""
    User = get_user_model()  # noqa: N806
    return User.objects.order_by("-is_active", User.USERNAME_FIELD)
