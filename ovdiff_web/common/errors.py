"""The one error type services raise for users: a code, a message, an HTTP status and, when one field of the
request is at fault, its name. The API maps it once to a DRF response (``ovdiff_web.common.api.errors``) and the
dashboard once to a message (``ovdiff_web.common.views.service_error_message``)."""
from __future__ import annotations


class ServiceError(Exception):
    """A refusal the user can act on. Subclasses set ``code`` and ``status``; an instance may override both."""

    code = "invalid"
    status = 400

    def __init__(self, message: str, field: str | None = None, *, code: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def as_dict(self, default_field: str = "detail") -> dict[str, list[str] | str]:
        """The JSON body of the 4xx answer: ``{field: [message]}`` (DRF's validation shape) plus ``code``."""
        return {self.field or default_field: [self.message], "code": self.code}


class InputError(ServiceError, ValueError):
    """The request cannot be done as asked (dataset not ready, empty vocabulary, bad settings); ``field`` names
    the request field at fault when there is one."""

    code = "invalid_input"
