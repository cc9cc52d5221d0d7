"""Collect the static files when the production storage would not find them (what scripts/web.sh does
before it serves).

With DEBUG off, pages name their CSS and scripts through WhiteNoise's manifest (hashed names); a
missing manifest makes every page a 500 ("Missing staticfiles manifest entry"). A checkout started
without Docker has none until `collectstatic` runs, and one that was updated has a stale one. So
each start checks, and collects only when the manifest is missing or older than a source file:
collecting takes seconds to minutes (every file is hashed and compressed), checking a fraction of one.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.core.management.base import BaseCommand

# collectstatic's default ignore patterns.
IGNORED = ["CVS", ".*", "*~"]


def _newest_source_mtime() -> float:
    newest = 0.0
    for finder in get_finders():
        for path, storage in finder.list(IGNORED):
            newest = max(newest, os.stat(storage.path(path)).st_mtime)
    return newest


def static_files_current() -> bool:
    """True when pages can name their static files: no manifest needed (DEBUG), or an up-to-date one."""
    manifest_name = getattr(staticfiles_storage, "manifest_name", None)
    if manifest_name is None:
        return True
    manifest = Path(staticfiles_storage.path(manifest_name))
    return manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime()


class Command(BaseCommand):
    help = "Run collectstatic if the static files' manifest is missing or older than a source file."
    requires_system_checks: list[str] = []

    def handle(self, *args, **options) -> None:
        if static_files_current():
            return
        self.stdout.write(f"Collecting static files into {settings.STATIC_ROOT} (their manifest is missing or old) ...")
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write("Static files collected.")
