"""Every operation leaves exactly one event with the right fields, through each door that offers it.

MCP over HTTP is covered in apps/mcp_tools/tests/test_audit_doors.py (it needs the live server).
"""

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.todos.models import Todo
from conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db

AGENT = "audit-test/1.0"


def only(action: str, **fields) -> AuditEvent:
    (event,) = AuditEvent.objects.filter(action=action, **fields)
    return event


def api(user=None) -> APIClient:
    client = client_for(user) if user is not None else APIClient()
    client.defaults["HTTP_USER_AGENT"] = AGENT
    return client


def test_rest_todo_lifecycle_leaves_one_event_per_change(alice):
    client = api(alice)
    todo_id = client.post("/api/todos/", {"title": "Buy milk"}, format="json").json()["id"]
    client.patch(f"/api/todos/{todo_id}", {"priority": "high"}, format="json")
    client.post(f"/api/todos/{todo_id}/complete")
    client.post(f"/api/todos/{todo_id}/complete")  # already complete: nothing changes, nothing recorded
    client.delete(f"/api/todos/{todo_id}")

    todo_events = list(AuditEvent.objects.filter(category="todo").order_by("id"))
    assert [e.action for e in todo_events] == ["todo.created", "todo.updated", "todo.completed", "todo.deleted"]
    for event in todo_events:
        assert (event.actor_id, event.actor_label, event.actor_type) == (alice.pk, "alice", "user")
        assert (event.door, event.user_agent, event.client_address) == ("rest", AGENT, "127.0.0.1")
        assert event.target_type == "todo" and event.target_id == str(todo_id)
        assert len(event.request_id) == 32 and event.outcome == "success"
    assert todo_events[1].data == {"fields": ["priority"]}
    assert len({e.request_id for e in todo_events}) == 4


def test_a_tool_call_leaves_a_tool_event_and_one_event_per_todo_it_changed_linked_by_invocation(alice):
    from apps.mcp_tools.tests.conftest import pat_for

    token = pat_for(alice)
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    body = client.post(
        "/api/mcp/tools/invoke",
        {"tool_name": "create_todos", "parameters": {"items": [{"title": "a"}, {"title": "b"}]}},
        format="json",
    ).json()

    tool = only("tool.invoked")
    created = list(AuditEvent.objects.filter(action="todo.created"))
    assert len(created) == 2 == Todo.objects.filter(owner=alice).count()
    assert tool.data["invocation_id"] == body["invocation_id"]
    assert {e.data["invocation_id"] for e in created} == {body["invocation_id"]}
    from apps.accounts.models import PersonalAccessToken

    token_id = PersonalAccessToken.objects.get(user=alice).pk
    for event in [tool, *created]:
        assert (event.actor_id, event.actor_type, event.token_id, event.door) == (alice.pk, "token", token_id, "rest")
    assert tool.category == "tool" and tool.duration_ms is not None and tool.duration_ms > 0


def test_a_refused_tool_call_is_one_denied_event_with_its_error_code(alice):
    from apps.mcp_tools.tests.conftest import pat_for

    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pat_for(alice, scopes=['todos:read'])}")
    client.post("/api/mcp/tools/invoke", {"tool_name": "create_todos", "parameters": {"items": []}}, format="json")

    event = only("tool.denied")
    assert (event.outcome, event.error_code) == ("denied", "insufficient_scope")
    assert not AuditEvent.objects.filter(category="todo").exists()


def test_sign_in_success_and_failure_are_recorded(alice):
    api().post("/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json")
    api().post("/api/auth/token", {"username": "alice", "password": "wrong"}, format="json")
    api().post("/api/auth/token", {"username": "nobody", "password": "wrong"}, format="json")

    ok = only("auth.login")
    assert (ok.actor_id, ok.outcome, ok.door, ok.data["method"]) == (alice.pk, "success", "rest", "jwt")
    failed = list(AuditEvent.objects.filter(action="auth.login_failed").order_by("id"))
    assert [(e.actor_id, e.outcome, e.error_code) for e in failed] == [
        (alice.pk, "failure", "invalid_credentials"),
        (None, "failure", "invalid_credentials"),
    ]
    assert "wrong" not in str(failed[0].data)


def test_refresh_and_logout_are_recorded(alice):
    pair = api().post("/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json").json()
    new = api().post("/api/auth/token/refresh", {"refresh": pair["refresh"]}, format="json").json()
    api().post("/api/auth/logout", {"refresh": new["refresh"]}, format="json")
    api().post("/api/auth/logout", {"refresh": new["refresh"]}, format="json")  # already gone

    assert only("auth.token_refreshed").actor_id == alice.pk
    logouts = list(AuditEvent.objects.filter(action="auth.logout").order_by("id"))
    assert [(e.outcome, e.error_code) for e in logouts] == [("success", ""), ("failure", "token_not_valid")]
    assert all(e.actor_id == alice.pk for e in logouts)


def test_sign_up_profile_and_password_changes_are_recorded(settings, alice):
    settings.REGISTRATION_OPEN = True
    api().post("/api/auth/register", {"username": "dora", "password": "a-long-enough-pass-42"}, format="json")
    signed_up = only("user.signed_up")
    assert signed_up.actor_label == "dora" and signed_up.category == "auth"

    client = api(alice)
    client.patch("/api/auth/me", {"timezone": "Europe/Paris", "email": "alice.new@example.org"}, format="json")
    profile = only("user.profile_updated")
    assert profile.data == {"fields": ["email", "timezone"]} and "alice.new@" not in str(profile.data)

    client.post("/api/auth/password", {"old_password": PASSWORD, "new_password": "another-long-pass-43"}, format="json")
    assert only("user.password_changed").actor_id == alice.pk


def test_admin_sign_in_and_changes_are_recorded_with_the_admin_door(olivia, alice):
    client = Client(HTTP_USER_AGENT=AGENT)
    assert client.post("/admin/login/", {"username": "olivia", "password": PASSWORD}).status_code == 302
    login = only("auth.login")
    assert (login.actor_id, login.door, login.data["method"]) == (olivia.pk, "admin", "session")

    from axes.models import AccessAttempt

    attempt = AccessAttempt.objects.create(username="bob", ip_address="10.0.0.1", failures_since_start=5)
    client.post(
        "/admin/axes/accessattempt/", {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"}
    )
    deleted = only("admin.deleted")
    assert (deleted.actor_id, deleted.door, deleted.category, deleted.user_agent) == (
        olivia.pk,
        "admin",
        "admin",
        AGENT,
    )
    assert deleted.target_type == "axes.accessattempt"


def test_management_commands_and_celery_jobs_leave_one_event_each(alice):
    call_command("audit_checkpoint", verbosity=0)
    command = only("command.audit_checkpoint")
    assert (command.door, command.outcome, command.actor_type) == ("cli", "success", "system")

    from apps.accounts.tasks import flush_expired_tokens

    flush_expired_tokens.delay()
    job = only("job.accounts.flush_expired_tokens")
    assert (job.door, job.outcome, job.category) == ("job", "success", "system")
    assert job.duration_ms is not None
