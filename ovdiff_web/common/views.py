"""Small helpers shared by the dashboard views."""
from __future__ import annotations

import functools
from typing import Any, Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse

from ovdiff_web.common import polygons
from ovdiff_web.common.errors import InputError, ServiceError

LOGIN_URL = "ui:login"


def ui_login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Every dashboard page needs a signed-in user; anonymous users go to the dashboard's login page."""
    return login_required(view, login_url=LOGIN_URL)


def service_error_message(exc: ServiceError, prefix: str = "", end: str = "") -> str:
    """The one mapping of a service error to a dashboard message (``messages.error``): what was refused and why,
    naming the field when one is at fault; ``prefix`` says what did not happen ("Not renamed: "), ``end`` closes
    the sentence."""
    field = getattr(exc, "field", None)
    text = f"{field}: {exc}" if field and field != "detail" and not str(exc).startswith(f"{field}:") else str(exc)
    return f"{prefix}{text}{end}"


def report_service_error(request: HttpRequest, exc: ServiceError, prefix: str = "", end: str = "") -> None:
    """Show ``exc`` on the next page (Django's messages framework)."""
    messages.error(request, service_error_message(exc, prefix, end))


def paginate(request: HttpRequest, items: Any, per_page: int, param: str = "page") -> Page:
    """A page of ``items``; a bad or out-of-range page number gives the nearest valid page, never a 404."""
    return Paginator(items, per_page).get_page(request.GET.get(param))


def choice(request: HttpRequest, param: str, allowed: tuple[str, ...], default: str) -> str:
    """A query parameter restricted to ``allowed`` (unknown values fall back to ``default``)."""
    value = request.GET.get(param, default)
    return value if value in allowed else default


def with_min_area(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """An export view that takes ``?min_area=`` pixels (``polygons.parse_min_area``, default 16) gets it as
    ``area``; a bad value is a plain-text 400 naming the parameter, the view not run."""
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            area = polygons.parse_min_area(request.GET.get("min_area"))
        except InputError as exc:
            return HttpResponse(f"min_area: {exc}", status=400, content_type="text/plain; charset=utf-8")
        return view(request, *args, area=area, **kwargs)

    return wrapped
