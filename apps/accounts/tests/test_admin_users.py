"""The user pages of the admin: operators manage ordinary accounts only; superusers keep the full form.

Every request goes through the real admin views with Django's test client.
"""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.core.management import call_command
from django.test import Client

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from conftest import PASSWORD, _make_user, client_for

pytestmark = pytest.mark.django_db

USERS = "/admin/accounts/user/"


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def oscar(db):
    return _make_user("oscar", role="operator")


@pytest.fixture
def sam(db):
    return User.objects.create_superuser("sam", "sam@example.test", PASSWORD)


def operator_form(user: User, **changes) -> dict:
    data = {"email": user.email, "timezone": user.timezone, "is_active": "on", "role": "user"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_operators_see_only_what_they_may_manage_on_an_ordinary_account(olivia, alice):
    page = admin_client(olivia).get(f"{USERS}{alice.pk}/change/")

    html = page.content.decode()
    assert page.status_code == 200 and "Change user" in html
    for field in ("email", "timezone", "is_active", "role"):
        assert f'name="{field}"' in html
    for field in ("is_superuser", "is_staff", "user_permissions", "groups", "password", "password1"):
        assert f'name="{field}"' not in html
    assert "../password/" not in html and alice.password not in html
    role_options = re.findall(r'<option value="(\w+)"', html.split('name="role"')[1].split("</select>")[0])
    assert role_options == ["user", "auditor"]


def test_an_operator_cannot_make_itself_superuser(olivia):
    client = admin_client(olivia)

    own_page = client.get(f"{USERS}{olivia.pk}/change/").content.decode()
    response = client.post(
        f"{USERS}{olivia.pk}/change/",
        operator_form(olivia, role="operator", is_superuser="on", is_staff="on"),
    )

    assert "View user" in own_page and 'name="is_superuser"' not in own_page and 'name="email"' not in own_page
    assert response.status_code == 403
    olivia.refresh_from_db()
    assert not olivia.is_superuser and olivia.roles == ["operator"]


def test_superuser_staff_and_permission_fields_posted_by_an_operator_are_ignored(olivia, alice):
    everything = Permission.objects.values_list("pk", flat=True)
    operator_group = Group.objects.get(name="operator")

    response = admin_client(olivia).post(
        f"{USERS}{alice.pk}/change/",
        {
            **operator_form(alice, email="alice@new.example", timezone="Europe/Berlin"),
            "is_superuser": "on",
            "is_staff": "on",
            "user_permissions": list(everything),
            "groups": [operator_group.pk],
            "password": "pbkdf2_sha256$1$x$y",
        },
    )

    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.email, alice.timezone) == ("alice@new.example", "Europe/Berlin")
    assert not alice.is_superuser and not alice.is_staff and alice.roles == ["user"]
    assert not alice.user_permissions.exists() and alice.check_password(PASSWORD)


def test_operators_give_user_or_auditor_but_not_operator(olivia, alice):
    client = admin_client(olivia)

    refused = client.post(f"{USERS}{alice.pk}/change/", operator_form(alice, role="operator"))
    alice.refresh_from_db()
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert alice.roles == ["user"] and not alice.is_staff

    assert client.post(f"{USERS}{alice.pk}/change/", operator_form(alice, role="auditor")).status_code == 302
    alice.refresh_from_db()
    assert alice.roles == ["auditor"] and alice.is_staff and not alice.is_superuser

    # The role an operator gives, it can take back.
    assert client.post(f"{USERS}{alice.pk}/change/", operator_form(alice, role="user")).status_code == 302
    alice.refresh_from_db()
    assert alice.roles == ["user"] and not alice.is_staff


def test_operators_deactivate_and_reactivate_ordinary_accounts(olivia, alice):
    client = admin_client(olivia)

    client.post(f"{USERS}{alice.pk}/change/", operator_form(alice, is_active=None))
    alice.refresh_from_db()
    assert not alice.is_active
    assert client_for(alice).get("/api/todos/").status_code == 401

    client.post(f"{USERS}{alice.pk}/change/", operator_form(alice))
    alice.refresh_from_db()
    assert alice.is_active


def test_operators_only_view_other_operators_and_superusers(olivia, oscar, sam):
    client = admin_client(olivia)
    for account in (oscar, sam):
        page = client.get(f"{USERS}{account.pk}/change/").content.decode()
        assert "View user" in page and 'name="email"' not in page and 'name="is_superuser"' not in page

        response = client.post(f"{USERS}{account.pk}/change/", operator_form(account, email="evil@example.test"))

        account.refresh_from_db()
        assert response.status_code == 403 and account.email != "evil@example.test"


def test_operators_never_set_a_password(olivia, alice, sam):
    client = admin_client(olivia)
    for account in (alice, sam):
        assert client.get(f"{USERS}{account.pk}/password/").status_code == 403
        response = client.post(
            f"{USERS}{account.pk}/password/",
            {"password1": "Taken-0ver-pass!", "password2": "Taken-0ver-pass!", "usable_password": "true"},
        )
        assert response.status_code == 403
        account.refresh_from_db()
        assert account.check_password(PASSWORD)


def _reset_path(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/password-reset/\S+/)", message.body).group(1)


def test_operators_send_a_reset_link_and_the_owner_chooses_the_password(
    olivia, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the mail goes once the change commits
        response = admin_client(olivia).post(
            USERS, {"action": "send_password_reset", "_selected_action": [alice.pk]}, follow=True
        )

    assert "Sent 1 password reset link(s)." in response.content.decode()
    assert [message.to for message in mail.outbox] == [[alice.email]]
    owner = Client()
    form_page = owner.get(_reset_path(mail.outbox[0]), follow=True)
    assert form_page.status_code == 200 and 'name="new_password1"' in form_page.content.decode()
    done = owner.post(
        form_page.redirect_chain[-1][0], {"new_password1": "Brand-new-pass-42", "new_password2": "Brand-new-pass-42"}
    )
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("Brand-new-pass-42")
    event = AuditEvent.objects.get(action="user.password_reset_sent")
    assert (event.actor_id, event.target_id) == (olivia.pk, str(alice.pk))


def test_the_reset_action_refuses_accounts_the_operator_may_not_manage(olivia, sam):
    response = admin_client(olivia).post(
        USERS, {"action": "send_password_reset", "_selected_action": [sam.pk]}, follow=True
    )

    assert "Not sent to sam: You may not change this account." in response.content.decode()
    assert mail.outbox == []


def test_operators_add_accounts_with_a_role_and_no_password(olivia, django_capture_on_commit_callbacks):
    client = admin_client(olivia)
    form = client.get(f"{USERS}add/")
    html = form.content.decode()
    assert form.status_code == 200 and 'name="role"' in html
    assert 'name="password1"' not in html and 'name="is_superuser"' not in html

    refused = client.post(
        f"{USERS}add/", {"username": "mallory", "email": "m@example.test", "timezone": "UTC", "role": "operator"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            f"{USERS}add/", {"username": "erin", "email": "erin@example.test", "timezone": "UTC", "role": "auditor"}
        )

    assert refused.status_code == 200 and not User.objects.filter(username="mallory").exists()
    assert created.status_code == 302
    erin = User.objects.get(username="erin")
    assert erin.roles == ["auditor"] and erin.is_staff and not erin.is_superuser
    assert not erin.has_usable_password()
    assert [message.to for message in mail.outbox] == [["erin@example.test"]]


def test_an_added_account_is_invited_in_the_products_words_with_the_public_link(
    olivia, settings, django_capture_on_commit_callbacks
):
    settings.PUBLIC_BASE_URL = "https://todo.example.org/gateway"
    with django_capture_on_commit_callbacks(execute=True):
        admin_client(olivia).post(
            f"{USERS}add/", {"username": "erin", "email": "erin@example.test", "timezone": "UTC", "role": "user"}
        )

    (message,) = mail.outbox
    assert message.subject == "You have an account on Todo MCP Gateway"
    assert "olivia made you an account on Todo MCP Gateway" in message.body and "username is erin" in message.body
    assert "In case you've forgotten" not in message.body and "password reset" not in message.body.lower()
    link = re.search(r"https://todo\.example\.org/gateway(/accounts/password-reset/\S+/)", message.body)
    assert link and "127.0.0.1" not in message.body
    assert "https://todo.example.org/gateway/accounts/login/" in message.body
    owner = Client()
    form_page = owner.get(link.group(1), follow=True)
    done = owner.post(
        form_page.redirect_chain[-1][0], {"new_password1": "Brand-new-pass-42", "new_password2": "Brand-new-pass-42"}
    )
    assert done.status_code == 302
    assert User.objects.get(username="erin").check_password("Brand-new-pass-42")
    event = AuditEvent.objects.get(action="user.invited")
    assert (event.actor_id, event.data["username"]) == (olivia.pk, "erin")


def test_a_reset_an_operator_sends_says_who_sent_it(olivia, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client(olivia).post(USERS, {"action": "send_password_reset", "_selected_action": [alice.pk]})

    (message,) = mail.outbox
    assert "olivia, an operator of Todo MCP Gateway" in message.body and "the account alice" in message.body
    assert "In case you've forgotten" not in message.body


def test_an_account_added_by_an_operator_with_the_default_role_can_use_the_api(olivia):
    client = admin_client(olivia)
    client.post(f"{USERS}add/", {"username": "frank", "email": "frank@example.test", "timezone": "UTC", "role": "user"})

    frank = User.objects.get(username="frank")

    assert frank.roles == ["user"] and not frank.is_staff
    assert client_for(frank).get("/api/todos/").status_code == 200


def test_superusers_keep_the_full_form_and_give_any_role(sam, alice):
    client = admin_client(sam)
    html = client.get(f"{USERS}{alice.pk}/change/").content.decode()
    for field in ("is_superuser", "is_staff", "user_permissions", "groups", "role"):
        assert f'name="{field}"' in html
    assert "../password/" in html

    data = {
        "username": "alice",
        "email": alice.email,
        "timezone": "UTC",
        "is_active": "on",
        "role": "operator",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    }
    response = client.post(f"{USERS}{alice.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    alice.refresh_from_db()
    assert alice.roles == ["operator"] and alice.is_staff


def test_every_admin_change_is_in_the_audit_trail_with_actor_object_and_fields(olivia, alice):
    form = operator_form(alice, email="a2@example.test", role="auditor")
    admin_client(olivia).post(f"{USERS}{alice.pk}/change/", form)

    change = AuditEvent.objects.get(action="admin.changed")
    role = AuditEvent.objects.get(action="user.role_changed")
    assert (change.actor_id, change.target_type, change.target_id) == (olivia.pk, "accounts.user", str(alice.pk))
    assert set(change.data["fields"]) == {"Email address", "Role"}
    assert (role.data["from"], role.data["to"]) == (["user"], "auditor")


def test_a_password_set_by_a_superuser_is_audited_by_name_never_by_value(sam, alice):
    response = admin_client(sam).post(
        f"{USERS}{alice.pk}/password/",
        {"password1": "Another-pass-987", "password2": "Another-pass-987", "usable_password": "true"},
    )

    assert response.status_code == 302
    alice.refresh_from_db()
    event = AuditEvent.objects.get(action="admin.changed", target_id=str(alice.pk))
    assert event.actor_id == sam.pk and event.data["fields"] == ["password"]
    stored = json.dumps([event.data, event.target_id, event.actor_label])
    assert alice.password not in stored and "Another-pass-987" not in stored


def test_changes_in_third_party_admins_and_bulk_deletions_are_audited_too(sam, olivia, alice, bob):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="accounts.flush_expired_tokens")
    page = admin_client(olivia).get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/")
    form = {
        name: value
        for name, value in page.context["adminform"].form.initial.items()
        if value is not None and not isinstance(value, list | dict)
    }
    form.update({"name": task.name, "task": task.task, "regtask": task.task, "enabled": "", "crontab": task.crontab_id})
    form.update({"args": "[]", "kwargs": "{}", "priority": "", "expires": "", "one_off": ""})
    admin_client(olivia).post(f"/admin/django_celery_beat/periodictask/{task.pk}/change/", form)
    admin_client(sam).post(USERS, {"action": "delete_selected", "_selected_action": [alice.pk, bob.pk], "post": "yes"})

    beat = AuditEvent.objects.get(action="admin.changed", target_type="django_celery_beat.periodictask")
    deleted = AuditEvent.objects.filter(action="admin.deleted", target_type="accounts.user")
    assert beat.actor_id == olivia.pk and "Enabled" in beat.data["fields"]
    assert sorted(event.data["object"] for event in deleted) == ["alice", "bob"]
    assert not User.objects.filter(username__in=["alice", "bob"]).exists()


# --- Default role (issue 8 item 2) -------------------------------------------------------------------


def test_every_new_account_gets_the_user_role_however_it_is_made(db):
    shell = User.objects.create_user("carl", "carl@example.test", PASSWORD)
    boss = User.objects.create_superuser("boss", "boss@example.test", PASSWORD)
    call_command("createsuperuser", interactive=False, username="root2", email="root2@example.test", verbosity=0)

    assert shell.roles == ["user"] and not shell.is_staff
    assert User.objects.get(username="boss").roles == ["user"] and boss.is_superuser
    assert User.objects.get(username="root2").roles == ["user"]
    assert client_for(shell).get("/api/todos/").status_code == 200


def test_a_user_without_a_role_is_told_which_role_is_missing_and_who_grants_it(alice):
    alice.groups.clear()

    rest = client_for(alice).get("/api/todos/")
    tool = client_for(alice).post("/api/mcp/tools/invoke", {"tool_name": "list_todos", "parameters": {}}, format="json")

    for response in (rest, tool):
        error = response.json()["error"]
        assert response.status_code == 403 and error["code"] == "role_missing"
        assert "'user' role" in error["message"] and "operator" in error["message"]


def test_superusers_add_accounts_with_a_password_and_any_role(sam):
    response = admin_client(sam).post(
        f"{USERS}add/",
        {
            "username": "gina",
            "usable_password": "true",
            "password1": "Gina-strong-pass-1",
            "password2": "Gina-strong-pass-1",
            "email": "gina@example.test",
            "timezone": "UTC",
            "role": "operator",
        },
    )

    assert response.status_code == 302
    gina = User.objects.get(username="gina")
    assert gina.roles == ["operator"] and gina.is_staff and gina.check_password("Gina-strong-pass-1")
    assert mail.outbox == []  # she has a password; no link needed
    assert AuditEvent.objects.filter(action="admin.added", target_id=str(gina.pk), actor=sam).exists()


def test_an_operator_signs_an_ordinary_account_out_everywhere_but_not_a_superuser(olivia, alice, sam):
    alice_api = client_for(alice)
    sam_api = client_for(sam)
    assert alice_api.get("/api/auth/me").status_code == 200

    response = admin_client(olivia).post(
        USERS, {"action": "sign_out_everywhere", "_selected_action": [alice.pk, sam.pk]}, follow=True
    )

    page = response.content.decode()
    assert "Signed out 1 account(s) everywhere." in page
    assert "Not signed out: you may not change sam." in page
    assert alice_api.get("/api/auth/me").status_code == 401
    assert sam_api.get("/api/auth/me").status_code == 200
    assert AuditEvent.objects.filter(action="user.signed_out_everywhere", target_id=str(alice.pk)).count() == 1


def test_accounts_left_without_a_role_get_the_default_role_on_the_next_migrate(alice, olivia):
    alice.groups.clear()  # as accounts made before every new account got a role
    assert client_for(alice).get("/api/todos/").status_code == 403

    call_command("migrate", verbosity=0)

    assert User.objects.get(pk=alice.pk).roles == ["user"]
    assert User.objects.get(pk=olivia.pk).roles == ["operator"]  # a role already held is kept
    assert client_for(alice).get("/api/todos/").status_code == 200
