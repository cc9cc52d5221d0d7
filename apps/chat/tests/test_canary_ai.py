"""The planted key through every provider failure on the calling side (AI tools, chat, cache, breaker, admin):
in no response, log line, audit event, database row, cache entry or mail. Searches as apps/keys/tests/test_canary.py."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.keys.tests.test_canary import _assert_found_nowhere
from apps.mcp_tools.tests.pipeline_helpers import INVOKE_URL
from apps.providers.breaker import circuit_reset
from apps.providers.models import ProviderCircuit
from apps.providers.tests import fake_provider as fake
from apps.providers.tests.keys import anthropic_key, gemini_key, openai_key

# Every failure the fake can send on a model call; each error body and page quotes the whole key.
FAILURES = [
    fake.RATE_LIMITED,
    fake.RATE_LIMITED_TOKENS,
    fake.INSUFFICIENT_QUOTA,
    fake.SERVER_ERROR,
    fake.BAD_GATEWAY,
    fake.UNAVAILABLE,
    fake.OVERLOADED,
    fake.PROXY_HTML,
    fake.NOT_JSON,
    fake.TRUNCATED_JSON,
    fake.WRONG_SHAPE,
    fake.EMPTY_200,
    fake.CAPTIVE_HTML,
    fake.CONNECTION_DROPPED,
    fake.SLOW,
    fake.BAD_REQUEST,
    fake.UNAUTHORIZED,  # last: it marks the key invalid
]


@pytest.mark.slow
@pytest.mark.django_db
def test_a_planted_key_appears_nowhere_when_calls_fail(
    alice,
    olivia,
    fake_provider,
    every_log_line,
    capfd,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.DEBUG = True
    settings.PROVIDER_RETRY_BASE_SECONDS = 0.01
    settings.PROVIDER_RETRY_TOTAL_SECONDS = 1
    settings.PROVIDER_CALL_TIMEOUT_SECONDS = 0.5
    settings.PROVIDER_BREAKER_FAILURES = 4  # the breaker opens and closes along the way
    settings.PROVIDER_BREAKER_RESET_SECONDS = 1
    fake_provider.slow_seconds = 1
    fake_provider.retry_after = "1"
    canaries = {
        "openai": openai_key("CANARYcanary"),
        "anthropic": anthropic_key("CANARYcanary"),
        "gemini": gemini_key("CANARYcanary"),
    }
    bodies: list[str] = []
    from conftest import client_for

    api = client_for(alice)

    def post(path: str, body: dict) -> None:
        with django_capture_on_commit_callbacks(execute=True):  # the refused-key mail goes once its mark commits
            response = api.post(path, body, format="json")
        bodies.append(response.content.decode("latin-1") + "\n" + str(response.headers))
        assert response.status_code in (200, 422), (path, response.content[:300])

    for provider, canary in canaries.items():
        fake_provider.valid_keys.add(canary)
        response = api.post(
            "/api/api-keys", {"provider": provider, "api_key": canary, "label": f"Canary {provider}"}, format="json"
        )
        assert response.status_code == 201
        # A good answer first, so the cache holds one.
        post(INVOKE_URL, {"tool_name": "ai_complete", "parameters": {"prompt": "ok", "provider": provider}})
        for number, behaviour in enumerate(FAILURES):
            if behaviour == fake.UNAUTHORIZED:  # an open breaker would keep the refusal from being seen
                for circuit in ProviderCircuit.objects.all():
                    circuit_reset(circuit=circuit, actor=olivia)
            fake_provider.behaviours[canary] = behaviour
            prompt = f"{behaviour} {number}"
            post(INVOKE_URL, {"tool_name": "ai_complete", "parameters": {"prompt": prompt, "provider": provider}})
            chat = {"messages": [{"role": "user", "content": f"create todo: {prompt}"}], "provider": provider}
            post("/api/chat", chat)
    assert AuditEvent.objects.filter(action="provider_key.refused").count() == len(canaries)
    assert AuditEvent.objects.filter(action="provider.breaker_changed").exists()
    admin = Client()
    admin.force_login(olivia)
    for path in [
        "/admin/providers/providercircuit/",
        "/admin/providers/aipreference/",
        "/admin/keys/providerkey/",
        "/admin/audit/auditevent/",
    ]:
        page = admin.get(path)
        assert page.status_code == 200, path
        bodies.append(page.content.decode())
    for event_id in AuditEvent.objects.values_list("pk", flat=True):
        bodies.append(admin.get(f"/admin/audit/auditevent/{event_id}/change/").content.decode())
    for conversation in api.get("/api/chat/conversations").json():
        bodies.append(api.get(f"/api/chat/conversations/{conversation['id']}").content.decode())

    _assert_found_nowhere(list(canaries.values()), bodies=bodies, logs=every_log_line, capfd=capfd)
