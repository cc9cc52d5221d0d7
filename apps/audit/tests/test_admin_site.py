"""The admin site as a whole: human names, read-only pages that say "View", short lists, audited changes."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client

from apps.accounts.models import User
from apps.audit.admin_site import AdminChangeAuditMixin
from apps.audit.models import AuditEvent
from apps.audit.services import audit_event_record
from apps.todos.services import todo_create
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

MAX_LIST_COLUMNS = 7  # what fits a 1400 px window without cutting columns off


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_every_app_and_model_in_the_admin_has_a_human_name():
    superuser = User.objects.create_superuser("sam", "sam@example.test", PASSWORD)

    index = admin_client(superuser).get("/admin/").content.decode()

    for name in ("MCP tools", "Login lockouts", "Refresh tokens", "Provider key vault", "Audit trail", "Accounts"):
        assert f">{name}<" in index
    assert "Mcp_Tools" not in index and ">Axes<" not in index and ">Token Blacklist<" not in index
    for model in admin.site._registry:
        app_config = apps.get_app_config(model._meta.app_label)
        assert "_" not in str(app_config.verbose_name), app_config.label
        assert "_" not in str(model._meta.verbose_name_plural), model._meta.label
        if app_config.name.startswith("apps."):
            assert "verbose_name" in type(app_config).__dict__, app_config.label


def test_change_lists_keep_to_a_few_columns():
    wide = {
        model._meta.label: len(model_admin.list_display)
        for model, model_admin in admin.site._registry.items()
        if len(model_admin.list_display) > MAX_LIST_COLUMNS
    }
    assert wide == {}


def test_read_only_pages_say_view_not_change(olivia, alice):
    client = admin_client(olivia)
    todo = todo_create(owner=alice, title="Buy milk")
    event = audit_event_record(action="todo.created", actor=alice)
    from apps.mcp_tools.tests.pipeline_helpers import invoke
    from conftest import client_for

    invoke(client_for(alice), "whoami")
    call = apps.get_model("mcp_tools", "ToolCall").objects.get()

    for url, title in [
        (f"/admin/todos/todo/{todo.pk}/change/", "View todo"),
        (f"/admin/audit/auditevent/{event.pk}/change/", "View audit event"),
        (f"/admin/mcp_tools/toolcall/{call.pk}/change/", "View tool call"),
    ]:
        page = client.get(url).content.decode()
        assert title in page and "Change " not in page.split("<h1>")[1][:80] and 'name="_save"' not in page


def test_every_admin_registered_on_the_site_audits_its_changes():
    assert all(isinstance(model_admin, AdminChangeAuditMixin) for model_admin in admin.site._registry.values())


def test_a_deleted_lockout_is_audited(olivia, client):
    from axes.models import AccessAttempt

    attempts = [
        AccessAttempt.objects.create(username=name, ip_address="10.0.0.1", failures_since_start=5, user_agent="x")
        for name in ("alice", "bob")
    ]
    response = admin_client(olivia).post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [a.pk for a in attempts], "post": "yes"},
    )

    assert response.status_code == 302 and not AccessAttempt.objects.exists()
    events = AuditEvent.objects.filter(action="admin.deleted", target_type="axes.accessattempt")
    assert events.count() == 2 and {event.actor_id for event in events} == {olivia.pk}
