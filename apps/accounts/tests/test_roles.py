import pytest
from django.contrib.auth.models import Group

from apps.accounts.roles import ROLES
from apps.accounts.services import user_set_role

pytestmark = pytest.mark.django_db


def test_every_role_is_a_group_with_its_permissions():
    groups = {group.name: group for group in Group.objects.prefetch_related("permissions")}
    assert set(ROLES) <= set(groups)
    operator = {f"{p.content_type.app_label}.{p.codename}" for p in groups["operator"].permissions.all()}
    assert "accounts.change_user" in operator
    assert "django_celery_beat.change_periodictask" in operator
    auditor = {f"{p.content_type.app_label}.{p.codename}" for p in groups["auditor"].permissions.all()}
    assert "audit.view_auditevent" in auditor
    assert not any(code.split(".")[1].startswith(("add_", "change_", "delete_")) for code in auditor)


def test_operators_and_auditors_are_staff_users_are_not(alice, olivia, audrey):
    assert (alice.is_staff, olivia.is_staff, audrey.is_staff) == (False, True, True)
    assert olivia.is_operator and not alice.is_operator
    assert audrey.roles == ["auditor"]


def test_changing_role_replaces_the_old_one_and_staff_follows(alice):
    user_set_role(user=alice, role="operator")
    alice.refresh_from_db()
    assert alice.roles == ["operator"]
    assert alice.is_staff
    user_set_role(user=alice, role="user")
    alice.refresh_from_db()
    assert alice.roles == ["user"]
    assert not alice.is_staff


def test_the_default_beat_schedule_is_in_the_database_for_the_admin():
    from django_celery_beat.models import PeriodicTask

    assert PeriodicTask.objects.filter(task="accounts.flush_expired_tokens", enabled=True).exists()


def test_operators_can_edit_schedules_in_the_admin(olivia, client):
    from django_celery_beat.models import PeriodicTask

    client.force_login(olivia)
    task = PeriodicTask.objects.get(task="accounts.flush_expired_tokens")
    assert client.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/").status_code == 200


def test_auditors_can_read_the_audit_trail_but_not_users_passwords(audrey, client):
    client.force_login(audrey)
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert client.get("/admin/todos/todo/").status_code == 403
