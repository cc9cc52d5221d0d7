"""Password-link mails go out after the change commits, with no database connection held, and are
audited only once the mail server took them."""

from __future__ import annotations

import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection, transaction
from django.test import Client

from apps.accounts.models import User
from apps.accounts.services import user_password_reset_send
from apps.audit.models import AuditEvent
from apps.core.errors import ServiceUnavailable

pytestmark = pytest.mark.django_db(transaction=True)

BACKEND = f"{__name__}.ConnectionWatchingBackend"
seen: list[dict[str, bool]] = []


class ConnectionWatchingBackend(EmailBackend):
    """The test outbox, noting whether this thread held a database connection while the mail went out."""

    refuse = False

    def send_messages(self, messages):
        seen.append({"connection_held": connection.connection is not None, "in_atomic": connection.in_atomic_block})
        if self.refuse:
            raise smtplib.SMTPServerDisconnected("the mail server hung up")
        return super().send_messages(messages)


@pytest.fixture(autouse=True)
def watching_backend(settings):
    settings.EMAIL_BACKEND = BACKEND
    seen.clear()
    ConnectionWatchingBackend.refuse = False
    yield
    ConnectionWatchingBackend.refuse = False


def operator_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_admins_reset_action_mails_without_holding_a_connection(olivia, alice):
    response = operator_client(olivia).post(
        "/admin/accounts/user/", {"action": "send_password_reset", "_selected_action": [alice.pk]}
    )

    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [[alice.email]]
    assert seen == [{"connection_held": False, "in_atomic": False}]
    assert AuditEvent.objects.filter(action="user.password_reset_sent", target_id=str(alice.pk)).exists()


def test_an_invitation_from_the_add_form_goes_after_its_transaction_commits(olivia):
    form = {"username": "erin", "email": "erin@example.test", "timezone": "UTC", "role": "user"}
    response = operator_client(olivia).post("/admin/accounts/user/add/", form)

    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [["erin@example.test"]]
    # The add form runs in a transaction: a mail sent inside it would have seen the connection held.
    assert seen == [{"connection_held": False, "in_atomic": False}]
    assert AuditEvent.objects.filter(action="user.invited").exists()


def test_the_public_reset_page_mails_without_holding_a_connection(client, alice):
    response = client.post("/accounts/password-reset/", {"email": alice.email})

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert seen == [{"connection_held": False, "in_atomic": False}]


def test_a_change_that_rolls_back_sends_no_mail_and_records_nothing(olivia, alice):
    with pytest.raises(RuntimeError), transaction.atomic():
        user_password_reset_send(user=alice, actor=olivia)
        raise RuntimeError("the rest of the change failed")

    assert mail.outbox == [] and seen == []
    assert not AuditEvent.objects.filter(action="user.password_reset_sent").exists()


def test_a_mail_the_server_refused_is_not_audited_as_sent(olivia, alice, caplog):
    ConnectionWatchingBackend.refuse = True

    with pytest.raises(ServiceUnavailable) as refused:
        user_password_reset_send(user=alice, actor=olivia)

    assert refused.value.code == "mail_unavailable"
    assert len(seen) == 1 and mail.outbox == []
    assert not AuditEvent.objects.filter(action="user.password_reset_sent").exists()
    assert alice.email not in caplog.text and "SMTPServerDisconnected" in caplog.text


def test_with_the_mail_server_down_the_public_page_answers_as_for_any_address(client, alice):
    ConnectionWatchingBackend.refuse = True

    known = client.post("/accounts/password-reset/", {"email": alice.email})
    unknown = client.post("/accounts/password-reset/", {"email": "nobody@example.test"})

    # No error page, and none that only a known address would get.
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert len(seen) == 1 and mail.outbox == []
    assert not AuditEvent.objects.filter(action="user.password_reset_sent").exists()


def test_with_the_mail_server_down_the_admin_says_what_was_not_sent(olivia, alice):
    ConnectionWatchingBackend.refuse = True
    client = operator_client(olivia)

    action = client.post(
        "/admin/accounts/user/", {"action": "send_password_reset", "_selected_action": [alice.pk]}, follow=True
    )
    added = client.post(
        "/admin/accounts/user/add/",
        {"username": "erin", "email": "erin@example.test", "timezone": "UTC", "role": "user"},
        follow=True,
    )

    assert action.status_code == added.status_code == 200
    notes = [str(message) for response in (action, added) for message in response.context["messages"]]
    assert f"Not sent to {alice.username}: The mail server is unavailable, so no mail was sent." in " ".join(notes)
    assert any(note.startswith("erin was added, but no link was sent") for note in notes)
    assert not any("was emailed" in note for note in notes)
    assert User.objects.filter(username="erin").exists()
    assert mail.outbox == []
    assert not AuditEvent.objects.filter(action__in=["user.invited", "user.password_reset_sent"]).exists()
