"""Request bodies and query strings with text no database column or JSON document can store: NUL characters
(PostgreSQL refuses them) and lone surrogates (not encodable as UTF-8). Refused up front with a 400 that names
the field, instead of a 500 from the database or the response encoder."""
from __future__ import annotations

from typing import Any, Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def bad_text(value: str) -> bool:
    return "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value)


def first_bad_field(data: Any, path: str = "") -> str | None:
    """The dotted path of the first string (key or value) with NUL or a lone surrogate, else None."""
    if isinstance(data, str):
        return path or "(body)" if bad_text(data) else None
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and bad_text(key):
                return (path + "." if path else "") + "(a key)"
            found = first_bad_field(value, here)
            if found:
                return found
    if isinstance(data, list):
        for i, value in enumerate(data):
            found = first_bad_field(value, f"{path}[{i}]")
            if found:
                return found
    return None


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, refusing NUL characters and lone surrogates anywhere in the document."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        field = first_bad_field(data)
        if field:
            raise ParseError(f"{field}: text must not contain NUL characters or lone surrogates")
        return data


class RejectBadQueryText:
    """Middleware: a query string with NUL characters is a 400 (filters would pass them to the database)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for key, values in request.GET.lists():
            if bad_text(key) or any(bad_text(v) for v in values):
                return JsonResponse({"detail": f"query parameter {key!r}: text must not contain NUL characters"},
                                    status=400)
        return self.get_response(request)
