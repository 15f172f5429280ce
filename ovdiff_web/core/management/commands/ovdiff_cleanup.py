"""``manage.py ovdiff_cleanup``: sweep what interrupted requests left behind (run before starting the web server)."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from ovdiff_web.ops.cleanup import sweep


class Command(BaseCommand):
    help = "Remove stale staging files and datasets stuck ingesting (older than OVDIFF_STALE_AFTER_S)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--max-age", type=float, default=None, help="seconds (default OVDIFF_STALE_AFTER_S)")

    def handle(self, *args: Any, max_age: float | None = None, **options: Any) -> None:

        counts = sweep(max_age)
        self.stdout.write(f"removed {counts['files']} stale staging entries, {counts['datasets']} interrupted "
                          "datasets")
