"""Small helpers shared by the dashboard views."""
from __future__ import annotations

from typing import Any, Callable

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import HttpRequest

LOGIN_URL = "ui:login"


def ui_login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Every dashboard page needs a signed-in user; anonymous users go to the dashboard's login page."""
    return login_required(view, login_url=LOGIN_URL)


def paginate(request: HttpRequest, items: Any, per_page: int, param: str = "page") -> Page:
    """A page of ``items``; a bad or out-of-range page number gives the nearest valid page, never a 404."""
    return Paginator(items, per_page).get_page(request.GET.get(param))


def choice(request: HttpRequest, param: str, allowed: tuple[str, ...], default: str) -> str:
    """A query parameter restricted to ``allowed`` (unknown values fall back to ``default``)."""
    value = request.GET.get(param, default)
    return value if value in allowed else default
