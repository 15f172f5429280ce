"""``manage.py add_teammate <username> [--staff] [--password ...]``: add a user account (the same service as the
dashboard's staff-only Team page). Without ``--password`` it asks for one when run in a terminal (blank:
generate) and otherwise generates one; a generated password is printed once."""
from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ovdiff_web.accounts.teammates import TeammateRefused, add_teammate


class Command(BaseCommand):
    help = "Add a teammate (a user account) who may sign in to the dashboard and the API."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--staff", action="store_true", help="may add teammates and see everything")
        parser.add_argument("--password", default=None,
                            help="the initial password (default: asked in a terminal, else generated and printed)")
        parser.add_argument("--email", default="")
        parser.add_argument("--no-input", "--noinput", action="store_false", dest="interactive",
                            help="never ask: generate the password unless --password is given")

    def handle(self, *args: Any, username: str, staff: bool = False, password: str | None = None,
               email: str = "", interactive: bool = True, **options: Any) -> None:
        if password is None and interactive and sys.stdin.isatty():
            password = self._ask() or None
        try:
            new = add_teammate(username, password=password, staff=staff, email=email)
        except TeammateRefused as exc:
            raise CommandError(f"{exc.field}: {exc}") from None
        role = "staff" if staff else "member"
        self.stdout.write(f"added {new.user.get_username()} ({role})")
        if new.generated:
            self.stdout.write(f"initial password (shown once): {new.password}")

    def _ask(self) -> str:
        first = getpass.getpass("Password (blank: generate one): ")
        if first and getpass.getpass("Password again: ") != first:
            raise CommandError("the passwords differ; nothing created")
        return first
