"""The one error type services raise for users: a code, a message, an HTTP status and, when one field of the
request is at fault, its name. The API maps it once to a DRF response (``ovdiff_web.common.api.errors``) and the
dashboard once to a message (``ovdiff_web.common.views.service_error_message``). Each room's refusals subclass it
(``QuotaExceeded``, ``CurationRefused``, ``ZipRejected`` ...), keeping the built-in base callers already catch."""
from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A refusal the user can act on. Subclasses set ``code`` and ``status``; an instance may override both."""

    code = "invalid"
    status = 400
    field: str | None = None
    extra: dict[str, Any] = {}  # more keys of the API answer (e.g. ``item``: the file at fault)

    def __init__(self, message: str = "", field: str | None = None, *, code: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:  # a subclass may have set its own field (or status) before calling this
            self.field = field
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def body(self, default_field: str = "detail") -> dict[str, Any]:
        """The JSON answer: a one-line ``detail`` (naming the field at fault), ``{field: [message]}`` (DRF's
        validation shape) and ``code``."""
        text = str(self)
        field = getattr(self, "field", None) or default_field
        out: dict[str, Any] = {"detail": f"{field}: {text}" if field != "detail" else text, "code": self.code}
        if field != "detail":
            out[field] = [text]
        if field.startswith("settings."):  # clients that read the request field itself find it too
            out.setdefault("settings", [f"{field}: {text}"])
        out.update(self.extra)
        return out

    def named(self, fields: dict[str, str]) -> "ServiceError":
        """This error with its field renamed where the caller's request calls it otherwise (a service says
        ``archive``; the dataset API's request field is ``file``)."""
        if self.field in fields:
            self.field = fields[self.field]
        return self


class InputError(ServiceError, ValueError):
    """The request cannot be done as asked (dataset not ready, empty vocabulary, bad settings); ``field`` names
    the request field at fault when there is one."""

    code = "invalid_input"


class Conflict(ServiceError):
    """The object changed or is in a state that refuses the action (409)."""

    code = "conflict"
    status = 409


class Unavailable(ServiceError):
    """A service the request needs (broker, object storage) did not answer (503)."""

    code = "unavailable"
    status = 503
