import socket

import pytest
from django.db import connections
from django.test import override_settings

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    # Bind then close: nothing listens there afterwards, so connections are refused at once.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_says_the_process_is_alive(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_everything_is_reachable(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}


def test_readyz_names_the_database_when_it_is_unreachable(client, monkeypatch):
    settings_dict = connections["default"].settings_dict
    if settings_dict["ENGINE"].endswith("sqlite3"):
        monkeypatch.setitem(settings_dict, "NAME", "/nonexistent-directory/db.sqlite3")
    else:
        monkeypatch.setitem(settings_dict, "HOST", "127.0.0.1")
        monkeypatch.setitem(settings_dict, "PORT", closed_port())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]
    assert response.json()["checks"]["cache"] == "ok"


def test_readyz_names_the_cache_when_redis_is_unreachable(client):
    unreachable = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    with override_settings(CACHES=unreachable):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["cache"]


def test_readyz_names_the_broker_when_it_is_unreachable(client, monkeypatch):
    from config.celery import app

    monkeypatch.setattr(app.conf, "broker_url", f"redis://127.0.0.1:{closed_port()}/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]


def test_readyz_never_prints_configuration(client, monkeypatch):
    from config.celery import app

    monkeypatch.setattr(app.conf, "broker_url", f"redis://:hunter2secret@127.0.0.1:{closed_port()}/0")
    body = client.get("/readyz").content.decode()
    assert "hunter2secret" not in body
    assert "127.0.0.1" not in body


@override_settings(ALLOWED_HOSTS=["gateway.example.com"], SECURE_SSL_REDIRECT=True)
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_the_containers_own_address_whatever_the_public_host_is(path):
    # Docker's healthcheck calls http://127.0.0.1:8000 while ALLOWED_HOSTS names the public host.
    from django.test import Client

    response = Client().get(path, HTTP_HOST="127.0.0.1:8000")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ok"


@override_settings(ALLOWED_HOSTS=["gateway.example.com"])
def test_other_paths_still_refuse_a_host_that_is_not_allowed():
    from django.test import Client

    client = Client()
    assert client.get("/", HTTP_HOST="127.0.0.1:8000").status_code == 400
    assert client.get("/api/todos/", HTTP_HOST="127.0.0.1:8000").status_code == 400
    assert client.get("/healthz/x", HTTP_HOST="127.0.0.1:8000").status_code == 400
