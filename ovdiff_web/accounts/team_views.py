"""The staff-only "Team" page: list the accounts and add a teammate (username, an initial password typed or
generated and shown once, staff or not) through ``accounts.teammates``. Others get 403; anonymous users the login
page."""
from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from ovdiff_web.accounts import access, teammates
from ovdiff_web.common.views import ui_login_required


class TeammateForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="letters, digits and @ . + - _")
    password = forms.CharField(required=False, strip=False, widget=forms.PasswordInput(render_value=False),
                               help_text="leave blank to generate one (shown once, on the next page)")
    staff = forms.BooleanField(required=False, label="staff (may add teammates and see everything)")


@ui_login_required
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest) -> HttpResponse:
    if not access.is_staff(request.user):
        raise PermissionDenied("only staff may add teammates")
    form = TeammateForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = teammates.add_teammate(data["username"], password=data["password"] or None,
                                             staff=data["staff"], by=request.user)
        except teammates.TeammateRefused as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            form = TeammateForm()
    response = render(request, "ovdiff/accounts/team.html",
                      {"form": form, "created": created, "users": teammates.teammates()},
                      status=400 if form.errors else 200)
    if created is not None:
        response["Cache-Control"] = "no-store"  # the generated password is shown once and never cached
    return response
