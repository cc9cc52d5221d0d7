"""Only apps/providers/ knows the providers: no other Python file, template or form names one.

Adding a provider is one module in apps/providers/plugins/ (docs/providers.md); everything else
(keys, masking, quotas, chat, pages, settings) asks the registry. This counts the names where they
must not be. Migrations and tests are exempt (they record history and use concrete examples).
"""

from __future__ import annotations

import re
from pathlib import Path

from apps.providers.registry import provider_specs_list

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("apps", "config", "templates")
SUFFIXES = {".py", ".html", ".txt", ".js"}

# Where a provider's name may still appear outside apps/providers/, and why.
ALLOWED = {
    # An operator's environment variable (the outbound guard's host list), kept under its released name.
    ("config/settings/gateway.py", "openai"),
}


def _names() -> dict[str, re.Pattern[str]]:
    """Each provider's name and the first word of its display name, as whole words ('gemini', 'google', ...)."""
    words: dict[str, re.Pattern[str]] = {}
    for spec in provider_specs_list():
        for word in (spec.name.split("_")[0], re.split(r"[^A-Za-z]", spec.display_name)[0].lower()):
            words[word] = re.compile(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", re.IGNORECASE)
    return words


def _files() -> list[Path]:
    found = []
    for top in SCANNED:
        for path in (ROOT / top).rglob("*"):
            relative = path.relative_to(ROOT).as_posix()
            if path.suffix not in SUFFIXES or not path.is_file():
                continue
            if relative.startswith("apps/providers/") or "/migrations/" in relative or "/tests/" in relative:
                continue
            found.append(path)
    return found


def test_the_scan_sees_the_names_where_they_belong():
    # Control: the words are found in the provider modules, so an empty result below means something.
    plugins = "\n".join(p.read_text() for p in (ROOT / "apps/providers/plugins").glob("*.py"))
    for word, pattern in _names().items():
        assert pattern.search(plugins), word
    assert {"openai", "anthropic", "gemini", "google"} <= set(_names())
    assert len(_files()) > 100


def test_no_file_outside_the_providers_app_names_a_provider():
    offenders = []
    for path in _files():
        text = path.read_text(errors="replace")
        relative = path.relative_to(ROOT).as_posix()
        for word, pattern in _names().items():
            if (relative, word) in ALLOWED:
                continue
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{relative}:{line}: {word}")
    assert offenders == [], "provider names outside apps/providers/:\n" + "\n".join(offenders)
