"""`manage.py create_operator`: the first operator of a production install, password never an argument."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from apps.accounts.models import User

pytestmark = pytest.mark.django_db

STRONG = "violet-harbour-lantern-42"


def test_it_creates_an_operator_with_the_password_from_a_file(tmp_path):
    password_file = tmp_path / "pw"
    password_file.write_text(STRONG + "\n")
    out = io.StringIO()

    call_command("create_operator", "--username", "ops", "--email", "ops@example.com", "--password-file",
                 str(password_file), stdout=out)  # fmt: skip

    user = User.objects.get(username="ops")
    assert user.check_password(STRONG)
    assert user.is_staff and list(user.groups.values_list("name", flat=True)) == ["operator"]
    assert user.email == "ops@example.com"
    assert "Created operator ops" in out.getvalue()
    assert STRONG not in out.getvalue()


def test_it_reads_the_password_from_standard_input(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(STRONG + "\n"))

    call_command("create_operator", "--username", "ops", "--email", "ops@example.com", "--password-file", "-",
                 stdout=io.StringIO())  # fmt: skip

    assert User.objects.get(username="ops").check_password(STRONG)


def test_it_prompts_twice_on_a_terminal_and_refuses_a_mismatch(monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    answers = iter([STRONG, STRONG + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))

    with pytest.raises(CommandError, match="do not match"):
        call_command("create_operator", "--username", "ops", "--email", "ops@example.com", stdout=io.StringIO())
    assert not User.objects.filter(username="ops").exists()


def test_it_refuses_a_weak_password_and_says_why(tmp_path):
    password_file = tmp_path / "pw"
    password_file.write_text("password\n")

    with pytest.raises(CommandError, match="too weak") as caught:
        call_command("create_operator", "--username", "ops", "--email", "ops@example.com", "--password-file",
                     str(password_file), stdout=io.StringIO())  # fmt: skip

    assert "too common" in str(caught.value)
    assert not User.objects.filter(username="ops").exists()


def test_it_refuses_a_taken_username(tmp_path, olivia):
    password_file = tmp_path / "pw"
    password_file.write_text(STRONG)

    with pytest.raises(CommandError, match="taken"):
        call_command("create_operator", "--username", "olivia", "--email", "o@example.com", "--password-file",
                     str(password_file), stdout=io.StringIO())  # fmt: skip


def test_a_password_is_never_accepted_as_an_argument():
    with pytest.raises(CommandError, match="unrecognized arguments"):
        call_command("create_operator", "--username", "ops", "--email", "ops@example.com", "--password", STRONG)


def test_without_a_terminal_or_a_file_it_says_how_to_give_the_password(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    with pytest.raises(CommandError, match="--password-file"):
        call_command("create_operator", "--username", "ops", "--email", "ops@example.com", stdout=io.StringIO())
