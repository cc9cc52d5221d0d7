"""What the README states about paths and generated secrets is what the code does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve

from config.secret_generators import env_lines

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize(
    "path", sorted({p for p in re.findall(r"`(?:[A-Z]+ )?(/api/[A-Za-z0-9_/{}.-]+)", README) if p != "/api/"})
)
def test_every_api_path_the_readme_names_is_served(path):
    try:
        match = resolve(re.sub(r"\{[^}]+\}", "1", path))
    except Resolver404:
        match = None
    assert match is not None and match.func.__name__ != "api_not_found", path


def test_the_readme_names_every_secret_generate_secrets_writes():
    written = [line.split("=", 1)[0] for line in env_lines() if not line.startswith("#")]
    sentence = re.search(r"`generate_secrets` appends (.+?); like", README, re.S).group(1)
    assert re.findall(r"`([A-Z_]+)`", sentence) == written


def test_the_readme_does_not_say_the_provider_path_is_missing():
    assert "not on main" not in README
