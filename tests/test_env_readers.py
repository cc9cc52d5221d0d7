"""config/env.py: every reader accepts NAME_FILE, and one env_secret reader serves every secret."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_float, env_id_secret_pairs, env_int, env_list, env_secret

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def file_value(tmp_path, monkeypatch):
    def put(name: str, text: str) -> None:
        path = tmp_path / name
        path.write_text(text + "\n")
        monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(f"{name}_FILE", str(path))

    return put


def test_every_typed_reader_reads_name_file(file_value):
    file_value("GW_TEST_INT", "42")
    file_value("GW_TEST_BOOL", "true")
    file_value("GW_TEST_FLOAT", "2.5")
    file_value("GW_TEST_LIST", "a, b")
    file_value("GW_TEST_CHOICE", "Info")
    assert env_int("GW_TEST_INT", 1) == 42
    assert env_bool("GW_TEST_BOOL", False) is True
    assert env_float("GW_TEST_FLOAT", 1.0) == 2.5
    assert env_list("GW_TEST_LIST", []) == ["a", "b"]
    assert env_choice("GW_TEST_CHOICE", "debug", {"debug", "info"}) == "info"


def test_the_variable_itself_wins_over_its_file(file_value, monkeypatch):
    file_value("GW_TEST_INT", "42")
    monkeypatch.setenv("GW_TEST_INT", "7")
    assert env_int("GW_TEST_INT", 1) == 7


def test_an_unreadable_file_stops_start_up_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("GW_TEST_INT_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="GW_TEST_INT_FILE could not be read"):
        env_int("GW_TEST_INT", 1)


def test_a_secret_is_required_in_production_and_generated_once_in_development(tmp_path, monkeypatch):
    monkeypatch.delenv("GW_TEST_SECRET", raising=False)
    monkeypatch.delenv("GW_TEST_SECRET_FILE", raising=False)
    with pytest.raises(
        ImproperlyConfigured, match=r"GW_TEST_SECRET must be set in production \(or GW_TEST_SECRET_FILE\)"
    ):
        env_secret("GW_TEST_SECRET", development=False, dev_file=tmp_path / "secret")
    assert not (tmp_path / "secret").exists()

    first = env_secret("GW_TEST_SECRET", development=True, dev_file=tmp_path / "secret", min_length=32)
    assert len(first) >= 32
    assert env_secret("GW_TEST_SECRET", development=True, dev_file=tmp_path / "secret") == first


def test_a_short_secret_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("GW_TEST_SECRET", "short")
    with pytest.raises(ImproperlyConfigured, match="GW_TEST_SECRET must be at least 32 characters long"):
        env_secret("GW_TEST_SECRET", development=True, dev_file=tmp_path / "secret", min_length=32)


def test_previous_secrets_are_id_pairs_never_the_current_id(monkeypatch):
    good, other = "p" * 32, "q" * 32
    monkeypatch.setenv("GW_TEST_PAIRS", f"old:{good},older:{other}")
    pairs = env_id_secret_pairs("GW_TEST_PAIRS", current_id="new", id_pattern=r"\w+", message="bad pairs")
    assert pairs == {"old": good, "older": other}
    for raw in (f"new:{good}", "old:short", good, f"old:{good},old:{other}"):
        monkeypatch.setenv("GW_TEST_PAIRS", raw)
        with pytest.raises(ImproperlyConfigured, match="bad pairs"):
            env_id_secret_pairs("GW_TEST_PAIRS", current_id="new", id_pattern=r"\w+", message="bad pairs")
    monkeypatch.setenv("GW_TEST_PAIRS", f"old:{good},old:{other}")
    assert env_id_secret_pairs(
        "GW_TEST_PAIRS", current_id="new", id_pattern=r"\w+", message="bad pairs", distinct=False
    ) == {"old": other}


RACER = """
import sys, time
from pathlib import Path
from config.env import secret_file_claim

directory, me, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])


def generate():
    # Every racer has found the file missing before any of them writes: the race, every time.
    (directory / f"ready-{me}").touch()
    deadline = time.monotonic() + 60
    while len(list(directory.glob("ready-*"))) < count:
        if time.monotonic() > deadline:
            raise SystemExit("the other racers never arrived")
        time.sleep(0.01)
    return f"secret-of-{me}"


value, created = secret_file_claim(directory / "var" / "dev-secret-key", generate)
print(value, created)
"""


def test_processes_starting_together_on_an_empty_var_all_get_the_same_secret(tmp_path):
    count = 5
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(tmp_path), str(me), str(count)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for me in range(count)
    ]
    answers = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err
        answers.append(out.split())

    secret = (tmp_path / "var" / "dev-secret-key").read_text().strip()
    assert secret.startswith("secret-of-")
    assert [value for value, _ in answers] == [secret] * count
    assert [created for _, created in answers].count("True") == 1
    assert stat.S_IMODE((tmp_path / "var" / "dev-secret-key").stat().st_mode) == 0o600
    assert [path.name for path in (tmp_path / "var").iterdir()] == ["dev-secret-key"]  # no temporary files left
