"""No credential reaches a log line, whatever the level: SQL at DEBUG included."""

from __future__ import annotations

import copy
import io
import logging
import logging.config

import pytest
from django.conf import settings as django_settings
from django.test import Client
from rest_framework.test import APIClient

from conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug_log(settings):
    """The project's own LOGGING at DEBUG everywhere (SQL included), its console handler captured."""
    settings.DEBUG = True  # Django logs SQL only with DEBUG on
    config = copy.deepcopy(django_settings.LOGGING)
    config["root"]["level"] = "DEBUG"
    config["loggers"]["django"]["level"] = "DEBUG"
    # The access log as WEB_ACCESS_LOG=1 configures it.
    config["loggers"]["uvicorn.access"].update(handlers=["console"], level="INFO")
    logging.config.dictConfig(config)
    stream = io.StringIO()
    (console,) = logging.getLogger("django").handlers
    console.setStream(stream)
    try:
        yield stream
    finally:
        # dictConfig leaves a logger's handlers alone when its config lists none.
        logging.getLogger("uvicorn.access").handlers.clear()
        logging.config.dictConfig(django_settings.LOGGING)


def test_logins_refreshes_and_admin_sessions_log_no_token_hash_or_session_key(debug_log, alice, olivia):
    api = APIClient()
    first = api.post("/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json").json()
    second = api.post("/api/auth/token/refresh", {"refresh": first["refresh"]}, format="json").json()
    api.post("/api/auth/logout", {"refresh": second["refresh"]}, format="json")
    browser = Client()
    assert browser.post("/admin/login/", {"username": "olivia", "password": PASSWORD}).status_code == 302
    browser.get("/admin/accounts/user/")
    alice.refresh_from_db()
    olivia.refresh_from_db()

    output = debug_log.getvalue()

    assert "django.db.backends" in output and "SELECT" in output and "[redacted]" in output
    credentials = [
        first["refresh"],
        first["access"],
        second["refresh"],
        second["access"],
        alice.password,
        olivia.password,
        browser.cookies["sessionid"].value,
    ]
    for credential in credentials:
        assert credential not in output
    for token in (first["refresh"], second["refresh"]):
        assert token.split(".")[2] not in output  # not even the signature on its own
    assert "md5$" not in output and PASSWORD not in output


def test_exception_text_and_messages_are_masked_too(debug_log, alice):
    refresh = APIClient().post("/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json").json()
    logger = logging.getLogger("apps.anything")

    try:
        raise ValueError(f"duplicate key (token)=({refresh['refresh']})")
    except ValueError:
        logger.exception("Failed for %s with hash %s", refresh["access"], "pbkdf2_sha256$870000$salt$hash=")

    output = debug_log.getvalue()
    assert "duplicate key (token)=([masked])" in output and "Failed for [masked] with hash [masked]" in output
    assert refresh["refresh"] not in output and refresh["access"] not in output and "pbkdf2_sha256$" not in output


def test_password_reset_links_stay_out_of_request_and_access_logs(
    debug_log, olivia, alice, django_capture_on_commit_callbacks
):
    import re

    from django.core import mail

    operator = Client()
    operator.force_login(olivia)
    with django_capture_on_commit_callbacks(execute=True):
        operator.post("/admin/accounts/user/", {"action": "send_password_reset", "_selected_action": [alice.pk]})
    path = re.search(r"https?://[^/\s]+(/accounts/password-reset/\S+/)", mail.outbox[0].body).group(1)
    token = path.rstrip("/").rsplit("/", 1)[1]
    Client().get(path)
    Client().get(path.replace(token, token + "x"))  # a bad link: django.request may log the path
    # What uvicorn logs for each request, with its own arguments, reaches the project's handler.
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 302)

    output = debug_log.getvalue()
    assert "uvicorn.access" in output and "/accounts/password-reset/[masked]" in output
    assert token not in output


def test_the_access_log_is_off_unless_asked_for():
    # uvicorn writes an access line per request whenever this logger has a handler, whatever its
    # own --no-access-log said before Django configured logging. A fresh process, as uvicorn starts
    # one (pytest hangs capture handlers on loggers in this one).
    import os
    import subprocess
    import sys

    probe = "import django; django.setup(); import logging; print(logging.getLogger('uvicorn.access').hasHandlers())"
    for value, expected in (("", "False"), ("1", "True")):
        env = {**os.environ, "WEB_ACCESS_LOG": value}
        done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
        assert done.stdout.strip() == expected, done.stderr
