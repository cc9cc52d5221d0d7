"""Plant a recognisable key, drive every door, then search everywhere for it: zero hits.

Every search is first shown to find something that is known to be there (a control), so a
search that silently looks nowhere fails the test instead of passing it.
"""

import datetime as dt
import io
import json
import logging

import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.keys import services
from apps.keys.models import ProviderKey
from apps.keys.tests.conftest import master_key
from apps.providers.tests import fake_provider as fake
from apps.providers.tests.keys import anthropic_key, gemini_key, openai_key

URL = "/api/api-keys"
CONTROL = "control-needle-4f9a"


def _needles(canary: str) -> list[str]:
    # The whole key, and overlapping 12-character windows after its public prefix, so that any
    # 17 characters of the secret leaked in a row are found (a mask shows only the last four).
    body_start = len("sk-ant-api03-" if canary.startswith("sk-ant-") else "sk-proj-")
    return [canary] + [canary[start : start + 12] for start in range(body_start, len(canary) - 12, 6)]


@pytest.fixture
def every_log_line(caplog):
    """caplog at DEBUG on every logger, including those that do not propagate to the root."""
    caplog.set_level(logging.DEBUG)
    touched = []
    for logger in [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]:
        touched.append((logger, logger.level, logger.disabled))
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if not logger.propagate:
            logger.addHandler(caplog.handler)
    yield caplog
    for logger, level, disabled in touched:
        logger.setLevel(level)
        logger.disabled = disabled
        if caplog.handler in logger.handlers:
            logger.removeHandler(caplog.handler)


def _database_text() -> str:
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    chunks = [out.getvalue()]
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - names from introspection
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview | bytes | bytearray):
                        chunks.append(bytes(value).decode("latin-1"))
                    elif value is not None:
                        chunks.append(value if isinstance(value, str) else json.dumps(value, default=str))
    return "\n".join(chunks)


def _cache_text() -> str:
    cache = caches["default"]
    chunks = []
    if settings.CACHES["default"]["BACKEND"].startswith("django_redis"):
        from django_redis import get_redis_connection

        client = get_redis_connection("default")
        for key in client.scan_iter(count=1000):
            chunks.append(key.decode("latin-1"))
            kind = client.type(key).decode()
            if kind == "string":
                values = [client.get(key)]
            elif kind == "hash":
                values = [item for pair in client.hgetall(key).items() for item in pair]
            elif kind == "list":
                values = client.lrange(key, 0, -1)
            elif kind == "set":
                values = list(client.smembers(key))
            elif kind == "zset":
                values = client.zrange(key, 0, -1)
            else:
                values = []
            chunks.extend(value.decode("latin-1") for value in values if value is not None)
    else:
        for key, value in cache._cache.items():
            chunks.append(key)
            chunks.append(bytes(value).decode("latin-1"))
    return "\n".join(chunks)


@pytest.mark.slow
def test_a_planted_key_appears_nowhere(alice, bob, olivia, keyring, fake_provider, every_log_line, capfd, settings):
    # DEBUG on, as in development: Django then logs every SQL statement with its parameters.
    settings.DEBUG = True
    canary = openai_key("CANARYcanary")
    other = openai_key()
    fake_provider.valid_keys.update({canary, other})
    bodies: list[str] = []

    def api(client, method, path, body=None, status=None, **extra):
        response = (
            getattr(client, method)(path, body, format="json", **extra)
            if body is not None
            else getattr(client, method)(path, **extra)
        )
        bodies.append(response.content.decode("latin-1") + "\n" + str(response.headers))
        if status is not None:
            assert response.status_code == status, (method, path, response.content[:300])
        return response

    from conftest import client_for

    alice_api, bob_api, olivia_api = client_for(alice), client_for(bob), client_for(olivia)

    # Store it (with a live check), and every way storing it can fail.
    created = api(
        alice_api, "post", URL, {"provider": "openai", "api_key": canary, "label": "Canary", "validate": True}, 201
    )
    key_id = created.json()["key"]["id"]
    api(alice_api, "post", URL, {"provider": "openai", "api_key": canary}, 409)
    api(alice_api, "post", URL, {"provider": "openai", "api_key": canary, "label": canary}, 400)
    api(alice_api, "post", URL, {"provider": "anthropic", "api_key": canary}, 400)
    api(alice_api, "post", URL, {"provider": "gemini", "api_key": canary}, 400)
    api(alice_api, "post", URL, {"provider": canary, "api_key": canary}, 400)
    api(alice_api, "post", URL, {"provider": "openai", "api_key": [canary]}, 400)
    api(alice_api, "post", URL, {"provider": "openai", "api_key": canary, "token": canary}, 400)
    api(alice_api, "post", URL, {"provider": "openai", "api_key": canary + " x"}, 400)
    api(alice_api, "post", URL, {"provider": "openai", "api_key": canary, "expires_at": canary}, 400)
    api(alice_api, "post", URL, {"provider": "openai", "api_key": canary, "user_id": bob.pk}, 403)
    api(alice_api, "post", URL, {"provider": "openai_compatible", "api_key": canary, "base_url": "ftp://x/"}, 400)
    pasted_into_url = {
        "provider": "openai_compatible",
        "api_key": openai_key(),
        "base_url": f"http://127.0.0.1:9/{canary}",
    }
    api(alice_api, "post", URL, pasted_into_url, 400)
    broken = alice_api.generic(
        "POST", URL, '{"provider": "openai", "api_key": "' + canary + '",,}', content_type="application/json"
    )
    bodies.append(broken.content.decode())
    assert broken.status_code == 400
    api(olivia_api, "post", URL, {"provider": "openai", "api_key": canary, "user_id": bob.pk, "label": "Bob's"}, 201)

    # Read it back every way there is, as JSON and through the browsable API.
    api(alice_api, "get", URL, status=200)
    api(alice_api, "get", f"{URL}/{key_id}", status=200)
    api(alice_api, "get", f"{URL}/{key_id}", status=200, HTTP_ACCEPT="text/html")
    api(alice_api, "get", URL, status=200, HTTP_ACCEPT="text/html")
    api(alice_api, "get", f"{URL}/providers", status=200)
    api(bob_api, "get", f"{URL}/{key_id}", status=404)

    # Validate it: accepted, rejected (the fake's 401 body quotes the whole key), unreachable.
    api(alice_api, "post", f"{URL}/{key_id}/validate", status=200)
    fake_provider.valid_keys.discard(canary)
    api(alice_api, "post", f"{URL}/{key_id}/validate", status=422)
    fake_provider.stall_keys.add(canary)
    api(alice_api, "post", f"{URL}/{key_id}/validate", status=503)
    fake_provider.stall_keys.discard(canary)

    # Rotate onto it (refused: it is already stored), default, and the provider layer's use.
    other_id = api(alice_api, "post", URL, {"provider": "openai", "api_key": other, "label": "Other"}, 201).json()[
        "key"
    ]["id"]
    api(alice_api, "post", f"{URL}/{other_id}/rotate", {"api_key": canary}, 409)
    api(alice_api, "post", f"{URL}/{key_id}/rotate", {"api_key": canary}, 409)
    api(alice_api, "post", f"{URL}/{other_id}/default", status=200)
    assert services.provider_key_plaintext_for_call(key=ProviderKey.objects.get(pk=key_id)) == canary

    # Expiry warning, master-key rotation.
    ProviderKey.objects.filter(pk=key_id).update(expires_at=timezone.now() + dt.timedelta(days=1))
    assert services.provider_keys_expire_and_warn()["warned"] == 1
    keyring(f"{master_key('v2')},{settings.VAULT_MASTER_KEYS}")
    call_command("vault_rewrap", stdout=io.StringIO())

    # The admin, as an operator: list, search, detail, actions.
    admin = Client()
    admin.force_login(olivia)
    bob_key = ProviderKey.objects.get(owner=bob)
    for path in [
        "/admin/keys/providerkey/",
        "/admin/keys/providerkey/?q=alice",
        "/admin/keys/providerkey/?status__exact=active",
        f"/admin/keys/providerkey/{key_id}/change/",
        f"/admin/keys/providerkey/{bob_key.pk}/change/",
        "/admin/audit/auditevent/",
    ]:
        response = admin.get(path)
        assert response.status_code == 200, path
        bodies.append(response.content.decode())
    for event_id in AuditEvent.objects.values_list("pk", flat=True):
        bodies.append(admin.get(f"/admin/audit/auditevent/{event_id}/change/").content.decode())
    for action in ("rewrap_keys", "revoke_keys"):
        bodies.append(
            admin.post(
                "/admin/keys/providerkey/", {"action": action, "_selected_action": [bob_key.pk]}, follow=True
            ).content.decode()
        )
    api(bob_api, "delete", f"{URL}/{bob_key.pk}", status=200)

    # --- search ---------------------------------------------------------------------------------------
    _assert_found_nowhere([canary], bodies=bodies, logs=every_log_line, capfd=capfd)
    assert ProviderKey.objects.filter(pk=key_id, master_key_version="v2").exists()


def _assert_found_nowhere(canaries: list[str], *, bodies: list[str], logs, capfd) -> None:
    """Search responses, database, logs, stdout/stderr, cache and mail for the canaries, controls first."""
    logging.getLogger("django.request").debug("control line %s", CONTROL)
    caches["default"].set("canary-control", CONTROL)
    print(CONTROL)
    captured = capfd.readouterr()
    places = {
        "responses": "\n".join(bodies),
        "database": _database_text(),
        "logs": logs.text + "\n" + "\n".join(str(r.args) for r in logs.records),
        "stdout/stderr": captured.out + captured.err,
        "cache": _cache_text(),
        "mail": "\n".join(f"{m.subject}\n{m.body}" for m in mail.outbox),
    }
    assert "INSERT INTO" in places["logs"], "SQL statements were logged and searched"
    controls = {
        "responses": "Canary",
        "database": "alice",
        "logs": CONTROL,
        "stdout/stderr": CONTROL,
        "cache": CONTROL,
        "mail": "Canary",
    }
    for place, text in places.items():
        assert controls[place] in text, f"the {place} search looked at nothing"
        for canary in canaries:
            for needle in _needles(canary):
                assert needle not in text, f"the planted key leaked into the {place}"


# (behaviour, status of POST /{id}/validate): the fake's failure modes; every error body, page and
# malformed 200 it sends quotes the whole key presented.
FAILING_PROVIDER = [
    (fake.RATE_LIMITED, 503),
    (fake.RATE_LIMITED_TOKENS, 503),
    (fake.SERVER_ERROR, 503),
    (fake.BAD_GATEWAY, 503),
    (fake.UNAVAILABLE, 503),
    (fake.OVERLOADED, 503),
    (fake.PROXY_HTML, 503),
    (fake.NOT_JSON, 503),
    (fake.TRUNCATED_JSON, 503),
    (fake.WRONG_SHAPE, 503),
    (fake.WRONG_SHAPE_LIST, 503),
    (fake.WRONG_SHAPE_DATA, 503),
    (fake.EMPTY_200, 503),
    (fake.CAPTIVE_HTML, 503),
    (fake.CONNECTION_DROPPED, 503),
    (fake.STALL_BODY, 503),
    (None, 422),  # back to the plain 401, whose body quotes the key too
]


@pytest.mark.slow
def test_a_planted_key_appears_nowhere_when_the_provider_fails(
    alice, olivia, keyring, fake_provider, every_log_line, capfd, settings
):
    settings.DEBUG = True
    settings.PROVIDER_VALIDATION_TIMEOUT_SECONDS = 0.3  # the stalled bodies never arrive either way
    makers = {"openai": openai_key, "anthropic": anthropic_key, "gemini": gemini_key}
    canaries = {provider: maker("CANARYcanary") for provider, maker in makers.items()}
    bodies: list[str] = []

    def api(client, method, path, body=None, status=None):
        response = (
            getattr(client, method)(path, body, format="json") if body is not None else getattr(client, method)(path)
        )
        bodies.append(response.content.decode("latin-1") + "\n" + str(response.headers))
        assert response.status_code == status, (method, path, response.content[:300])
        return response

    from conftest import client_for

    alice_api = client_for(alice)
    admin = Client()
    admin.force_login(olivia)
    for provider, canary in list(canaries.items()):
        fake_provider.valid_keys.add(canary)
        # Stored with a live check while the provider is rate-limiting: kept, recorded as an error.
        fake_provider.behaviours[canary] = fake.RATE_LIMITED
        created = api(
            alice_api,
            "post",
            URL,
            {"provider": provider, "api_key": canary, "label": f"Canary {provider}", "validate": True},
            201,
        ).json()
        assert created["key"]["last_validation_result"] == "error"
        key_id = created["key"]["id"]
        for behaviour, status in FAILING_PROVIDER:
            if behaviour is None:
                fake_provider.behaviours.pop(canary)
                fake_provider.valid_keys.discard(canary)
            else:
                fake_provider.behaviours[canary] = behaviour
            api(alice_api, "post", f"{URL}/{key_id}/validate", status=status)
            # What the owner and the operator see of the recorded outcome.
            api(alice_api, "get", f"{URL}/{key_id}", status=200)
            bodies.append(admin.get(f"/admin/keys/providerkey/{key_id}/change/").content.decode())
        # Rotating onto a fresh key with a live check while the provider sends a malformed 200.
        replacement = makers[provider]("CANARYcanary")
        canaries[f"{provider} replacement"] = replacement
        fake_provider.behaviours[replacement] = fake.NOT_JSON
        api(alice_api, "post", f"{URL}/{key_id}/rotate", {"api_key": replacement, "validate": True}, 200)
    assert len(fake_provider.requests) == len(makers) * (2 + len(FAILING_PROVIDER)), "one request per check, no retry"
    bodies.append(admin.get("/admin/keys/providerkey/?last_validation_result__exact=error").content.decode())
    for event_id in AuditEvent.objects.values_list("pk", flat=True):
        bodies.append(admin.get(f"/admin/audit/auditevent/{event_id}/change/").content.decode())
    ProviderKey.objects.filter(status="active").update(expires_at=timezone.now() + dt.timedelta(days=1))
    assert services.provider_keys_expire_and_warn()["warned"] == len(makers)

    _assert_found_nowhere(list(canaries.values()), bodies=bodies, logs=every_log_line, capfd=capfd)
