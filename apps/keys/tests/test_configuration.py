"""Configuration of the vault: keyring parsing, start-up refusals, development defaults."""

import base64
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.debug import SafeExceptionReporterFilter

from apps.keys.tests.conftest import master_key
from config.env import vault_keyring
from tests.startup import start_settings


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "holds no keys"),
        ("no-colon-here", "must look like v1:<base64 key>"),
        ("v1:not base64!", "not valid base64"),
        ("v1:" + "QUJD", "must decode to 32 bytes, got 3"),
        # A fixed id: pytest-xdist's workers must name every test the same, and these keys are random.
        pytest.param(f"{master_key('v1')},{master_key('v1')}", "lists version v1 twice", id="v1-twice"),
        ("v 1:AAAA", "must look like"),
    ],
)
def test_a_malformed_keyring_is_refused_without_echoing_it(raw, message):
    with pytest.raises(ImproperlyConfigured, match=message) as caught:
        vault_keyring("VAULT_MASTER_KEYS", raw)
    if raw.count(":") == 1 and len(raw) > 10:
        assert raw.split(":")[1] not in str(caught.value)


def test_the_keyring_accepts_url_safe_and_unpadded_base64():
    material = bytes(range(250, 256)) * 5 + b"\xfb\xff"
    text = base64.urlsafe_b64encode(material).decode().rstrip("=")
    assert vault_keyring("VAULT_MASTER_KEYS", f"v3:{text}") == [("v3", material)]


def test_debug_pages_hide_the_master_keys_and_the_pepper():
    safe = str(SafeExceptionReporterFilter().get_safe_settings())

    assert settings.VAULT_MASTER_KEYS not in safe
    assert settings.VAULT_FINGERPRINT_SECRET not in safe


def _start_production(tmp_path: Path, **extra: str | None) -> subprocess.CompletedProcess:
    # The vault's own variables are what these tests are about: each test names the ones it gives.
    return start_settings(tmp_path, **{"VAULT_MASTER_KEYS": None, "VAULT_FINGERPRINT_PEPPER": None, **extra})


@pytest.mark.own_environment
def test_production_refuses_to_start_without_a_keyring(tmp_path):
    result = _start_production(tmp_path, VAULT_FINGERPRINT_PEPPER="p" * 40)

    assert result.returncode != 0
    assert "VAULT_MASTER_KEYS must be set in production" in result.stderr
    assert not (tmp_path / "vault-master-keys").exists()


@pytest.mark.own_environment
def test_production_refuses_to_start_with_a_malformed_keyring(tmp_path):
    result = _start_production(tmp_path, VAULT_MASTER_KEYS="v1:c2hvcnQ=", VAULT_FINGERPRINT_PEPPER="p" * 40)

    assert result.returncode != 0
    assert "must decode to 32 bytes" in result.stderr


@pytest.mark.own_environment
def test_production_refuses_to_start_without_a_pepper(tmp_path):
    result = _start_production(tmp_path, VAULT_MASTER_KEYS=master_key("v1"))

    assert result.returncode != 0
    assert "VAULT_FINGERPRINT_PEPPER must be set in production" in result.stderr


@pytest.mark.own_environment
def test_production_starts_with_a_keyring_from_a_file(tmp_path):
    keyring_file = tmp_path / "keyring"
    keyring_file.write_text(master_key("v2") + "," + master_key("v1") + "\n")

    result = _start_production(tmp_path, VAULT_MASTER_KEYS_FILE=str(keyring_file), VAULT_FINGERPRINT_PEPPER="p" * 40)

    assert result.returncode == 0, result.stderr


@pytest.mark.own_environment
def test_development_generates_the_keyring_and_pepper_once_with_a_loud_warning(tmp_path):
    code = "from django.conf import settings as s; print(s.VAULT_MASTER_KEYS[:3])"  # the settings generate them

    first = start_settings(tmp_path, code=code, production=False, APP_ENV="development")
    second = start_settings(tmp_path, code=code, production=False, APP_ENV="development")

    keyring_file = tmp_path / "vault-master-keys"
    assert first.returncode == 0, first.stderr
    assert "Generated a DEVELOPMENT vault master key" in first.stderr
    assert "Generated a DEVELOPMENT vault fingerprint pepper" in first.stderr
    assert "Generated a DEVELOPMENT" not in second.stderr
    assert first.stdout.strip() == "v1:"
    assert oct(keyring_file.stat().st_mode & 0o777) == "0o600"
    assert vault_keyring("VAULT_MASTER_KEYS", keyring_file.read_text().strip())[0][0] == "v1"
    assert keyring_file.read_text().strip().split(":", 1)[1] not in first.stderr


@pytest.mark.own_environment
def test_production_refuses_a_provider_base_url_that_is_not_http(tmp_path):
    result = _start_production(
        tmp_path,
        VAULT_MASTER_KEYS=master_key("v1"),
        VAULT_FINGERPRINT_PEPPER="p" * 40,
        OPENAI_BASE_URL="file:///etc/passwd",
    )

    assert result.returncode != 0
    assert "OPENAI_BASE_URL must be an http:// or https:// URL" in result.stderr
