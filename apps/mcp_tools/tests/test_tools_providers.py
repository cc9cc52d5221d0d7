"""whoami shows the caller's stored provider keys masked, and the key itself goes nowhere."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.keys.services import provider_key_create
from apps.mcp_tools.models import ToolCall
from apps.mcp_tools.tests.pipeline_helpers import invoke

pytestmark = pytest.mark.django_db

CANARY = "sk-proj-CANARYwhoami0123456789abcdefghijklmnopqrstuvwxyzABCD"


def test_whoami_lists_the_callers_keys_masked(alice, bob, alice_client, bob_client):
    key, _ = provider_key_create(actor=alice, owner=alice, provider="openai", api_key=CANARY, label="work")
    response = invoke(alice_client, "whoami")
    assert response.status_code == 200
    providers = response.json()["result"]["providers"]
    assert providers == [
        {
            "id": key.pk,
            "provider": "openai",
            "label": "work",
            "mask": key.mask,
            "status": "active",
            "is_default": key.is_default,
        }
    ]
    assert CANARY not in response.content.decode()
    assert CANARY[8:-4] not in key.mask
    # bob sees only his own (none).
    assert invoke(bob_client, "whoami").json()["result"]["providers"] == []
    stored = [str(event.data) for event in AuditEvent.objects.all()] + [str(row) for row in ToolCall.objects.values()]
    assert not any(CANARY in text for text in stored)
