"""Production headers: HTTPS only behind a TLS proxy (redirect + HSTS) and a Content-Security-Policy."""

from __future__ import annotations

import json

import pytest

from tests.startup import start_settings

# Starts its processes with an environment of its own, never the run's DATABASE_URL or REDIS_URL.
pytestmark = pytest.mark.own_environment

# Requests through Django's test client inside a production start-up (no database is touched). The
# pages name their CSS through the static files manifest, which the image builds with collectstatic;
# headers are the subject here, so the probe serves static names unhashed instead of building it.
HEADERS_PROBE = (
    "import json, django; django.setup(); from django.conf import settings; "
    "settings.STORAGES = {**settings.STORAGES, 'staticfiles': "
    "{'BACKEND': 'django.contrib.staticfiles.storage.StaticFilesStorage'}}; "
    "from django.test import Client; c = Client(); "
    "https = c.get('/', HTTP_HOST='gateway.example.com', HTTP_X_FORWARDED_PROTO='https'); "
    "plain = c.get('/', HTTP_HOST='gateway.example.com'); "
    "probe = c.get('/healthz', HTTP_HOST='127.0.0.1:8000'); "
    "print(json.dumps({'https': [https.status_code, dict(https.headers)], "
    "'plain': [plain.status_code, plain.headers.get('Location')], 'probe': probe.status_code}))"
)


def probe_headers(tmp_path, **env: str | None) -> dict:
    result = start_settings(tmp_path, code=HEADERS_PROBE, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_behind_a_tls_proxy_http_is_redirected_and_https_answers_with_hsts_and_a_csp(tmp_path):
    seen = probe_headers(tmp_path, BEHIND_TLS_PROXY="true")

    status, headers = seen["https"]
    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert seen["plain"] == [301, "https://gateway.example.com/"]
    # The container's own probe over plain http is neither redirected nor refused for its Host.
    assert seen["probe"] == 200


def test_hsts_lifetime_and_preload_are_settings(tmp_path):
    seen = probe_headers(tmp_path, BEHIND_TLS_PROXY="true", SECURE_HSTS_SECONDS="600", SECURE_HSTS_PRELOAD="true")

    assert seen["https"][1]["Strict-Transport-Security"] == "max-age=600; includeSubDomains; preload"


def test_without_a_tls_proxy_nothing_claims_https(tmp_path):
    seen = probe_headers(tmp_path, BEHIND_TLS_PROXY=None)

    assert seen["plain"][0] == 200
    assert "Strict-Transport-Security" not in seen["https"][1]
    assert "Content-Security-Policy" in seen["https"][1]
