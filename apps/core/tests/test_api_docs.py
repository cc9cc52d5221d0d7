"""/api/docs/ works with no internet: every asset comes from this service, at the pinned version."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db

ASSET = re.compile(r'(?:src|href)="([^"]+)"')


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_docs_page_loads_only_local_assets_and_each_is_served(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = ASSET.findall(html)
    assert {"swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"} <= {
        url.rsplit("/", 1)[-1] for url in assets
    }
    for url in assets:
        # A same-origin path, never a CDN (http://, https:// or protocol-relative //host).
        assert url.startswith("/") and not url.startswith("//"), url
        response = client.get(url.replace("&amp;", "&"))
        assert response.status_code == 200, url
        assert body_of(response), url


def test_the_docs_page_needs_no_inline_script_or_style_so_the_csp_allows_it(client):
    page = client.get("/api/docs/")
    html = page.content.decode()
    assert "<style" not in html
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy

    script_url = re.search(r'<script src="(/api/docs/[^"]*)"', html).group(1).replace("&amp;", "&")
    script = client.get(script_url)
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("application/javascript")
    # The init script fetches the schema from this service, and turns off the online validator.
    assert '"/api/schema/"' in script.content.decode()
    assert '"validatorUrl": null' in script.content.decode()
