"""Typed readers for settings that come from the environment.

Every reader fails with ImproperlyConfigured naming the variable, so a bad value stops
start-up instead of surfacing at first use. Any variable can also be given as NAME_FILE
(a path whose contents are the value), which is how container secrets are usually mounted.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

# Parsed where the vault lives (plain Python, no app loading); re-exported for settings and the generators.
from apps.keys.keyring import VAULT_KEY_BYTES, master_key_entry, vault_keyring  # noqa: F401

_env = environ.FileAwareEnv()

_DATABASE_SCHEMES = {"postgres", "postgresql", "pgsql", "sqlite"}
_REDIS_SCHEMES = {"redis", "rediss", "unix"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def is_set(name: str) -> bool:
    return bool(os.environ.get(name) or os.environ.get(f"{name}_FILE"))


def _raw(name: str) -> str | None:
    """NAME's value, or the contents of the file NAME_FILE names (container secrets); None if neither."""
    value = os.environ.get(name)
    if value is not None and value != "":
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE could not be read: {exc.strerror}.") from None
    return value


def env_str(name: str, default: str | None = None) -> str:
    try:
        value = _env.str(name, default=default) if default is not None else _env.str(name)
    except ImproperlyConfigured:
        raise ImproperlyConfigured(f"{name} must be set (or {name}_FILE).") from None
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE could not be read: {exc.strerror}.") from None
    return value.strip()


def env_bool(name: str, default: bool) -> bool:
    raw = _raw(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false/1/0), got {raw!r}.")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = _raw(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, got {value}.")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
    raw = _raw(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}.") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name} must be a finite number, got {raw!r}.")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, got {value}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = _raw(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: set[str]) -> str:
    raw = _raw(name)
    value = (default if raw is None else raw).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {sorted(choices)}, got {value!r}.")
    return value


def env_rate(name: str, default: str) -> str:
    """A rate in the `limits` notation ("5/hour", "20 per 5 minutes"), checked at start-up."""
    from limits import parse

    value = env_str(name, default)
    try:
        parse(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a rate such as '5/hour' or '20 per 5 minutes', got {value!r}."
        ) from None
    return value


def env_http_url(name: str, default: str) -> str:
    """An http(s) base URL without a trailing slash; the message never echoes it (it may hold credentials)."""
    url = env_str(name, default).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ImproperlyConfigured(f"{name} must be an http:// or https:// URL with a host.")
    return url


def database_from_url(name: str, url: str) -> dict:
    """Parse a DATABASE_URL, accepting only the backends this product supports.

    The message never echoes the URL itself: it may hold a password.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme not in _DATABASE_SCHEMES:
        raise ImproperlyConfigured(
            f"{name} must start with postgres:// or sqlite:/// (got scheme {scheme or 'none'!r})."
        )
    try:
        config = _env.db_url_config(url)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is malformed: {exc}.") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} names no database.")
    if scheme != "sqlite" and not config.get("HOST"):
        raise ImproperlyConfigured(f"{name} names no host.")
    return config


def redis_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme.lower() not in _REDIS_SCHEMES:
        raise ImproperlyConfigured(f"{name} must start with redis://, rediss:// or unix:// (got {parts.scheme!r}).")
    try:
        parts.port  # noqa: B018 - raises ValueError on a non-numeric port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has a malformed port.") from None
    if parts.scheme != "unix" and not parts.hostname:
        raise ImproperlyConfigured(f"{name} names no host.")
    return url


def env_secret(
    name: str,
    *,
    development: bool,
    dev_file: Path | None,
    generate: Callable[[], str] | None = None,
    min_length: int = 0,
    hint: str = "",
    announce: tuple[str, str] | None = None,
) -> str:
    """A secret from NAME (or NAME_FILE); in development, else a value generated once into `dev_file`.

    Production without it stops start-up. `announce` = (what, consequence) prints a loud warning
    when a development file is first generated (for secrets whose loss loses data).
    """
    if is_set(name):
        value = env_str(name)
    elif development and dev_file is not None:
        value, created = secret_file_claim(dev_file, generate or (lambda: secrets.token_urlsafe(48)))
        if created and announce is not None:
            # Logging is not configured yet at import; WARNING still reaches stderr via the last-resort handler.
            logging.getLogger("apps.keys.vault").warning(
                "!!! Generated a DEVELOPMENT %s in %s. %s; never use it in production. !!!",
                announce[0],
                dev_file,
                announce[1],
            )
    else:
        raise ImproperlyConfigured(f"{name} must be set in production (or {name}_FILE){hint}.")
    if len(value) < min_length:
        raise ImproperlyConfigured(f"{name} must be at least {min_length} characters long.")
    return value


def env_id_secret_pairs(
    name: str, *, current_id: str, id_pattern: str, message: str, distinct: bool = True
) -> dict[str, str]:
    """ "id:secret,id:secret" (previous peppers, kept to verify old digests) -> {id: secret}: every
    secret at least 32 characters, ids distinct, matching `id_pattern` and not `current_id`."""
    pairs: dict[str, str] = {}
    for entry in env_list(name, []):
        pair_id, sep, secret = entry.partition(":")
        taken = {current_id, *pairs} if distinct else {current_id}
        if not sep or not re.fullmatch(id_pattern, pair_id) or len(secret) < 32 or pair_id in taken:
            raise ImproperlyConfigured(message)
        pairs[pair_id] = secret
    return pairs


def mcp_hosts_from_allowed_hosts(hosts: list[str]) -> list[str]:
    """Django's ALLOWED_HOSTS -> the MCP SDK's Host patterns ("name" and "name:*" for any port)."""
    patterns: list[str] = []
    for host in hosts:
        if host == "*":
            raise ImproperlyConfigured(
                "ALLOWED_HOSTS='*' gives /mcp no DNS-rebinding protection; set MCP_ALLOWED_HOSTS explicitly."
            )
        name = host.lstrip(".")  # Django's ".example.com" also allows subdomains; list those in MCP_ALLOWED_HOSTS.
        patterns += [name, f"{name}:*"]
    return patterns


def mcp_origin(url: str) -> str:
    """An allowed Origin for /mcp: scheme://host[:port] only (port `*` for any)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path.strip("/") or "*" in parts.netloc[:-2]:
        raise ImproperlyConfigured(f"MCP origins must look like https://host[:port] or http://host:*, got {url!r}.")
    return f"{parts.scheme}://{parts.netloc}"


def new_master_key() -> str:
    """A development vault master keyring of one fresh key."""
    return master_key_entry("v1")


def read_or_create_secret(path: Path, generate: Callable[[], str]) -> str:
    """Development only: keep a generated secret in a git-ignored file so restarts reuse it."""
    return secret_file_claim(path, generate)[0]


def secret_file_claim(path: Path, generate: Callable[[], str]) -> tuple[str, bool]:
    """(the secret in `path`, whether this call created it); the first of racing processes wins.

    `make run` starts web workers, a Celery worker and beat at once on an empty var/: each may find
    the file missing. Each writes its value to a private temporary file (mode 0600) and hard-links
    it into place; the link fails when the name exists, so exactly one value is ever published,
    whole, and every process (the losers too) returns the file's value.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return path.read_text().strip(), False
    except FileNotFoundError:
        pass
    value = generate()
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as file:
            file.write(value + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return path.read_text().strip(), False
    finally:
        os.unlink(temporary)
    return value, True
