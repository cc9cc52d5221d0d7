"""The verified-principal cache (apps/accounts/principal_cache.py): one query to authenticate, none
while cached, and a revocation that reaches other processes within PRINCIPAL_CACHE_SECONDS."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.db import transaction
from django.utils import timezone

from apps.accounts.bearer import bearer_authenticate
from apps.accounts.models import PersonalAccessToken
from apps.accounts.principal import principal_from_bearer, principal_from_bearer_cached
from apps.accounts.principal_cache import principal_cache_clear, principal_cache_put
from apps.accounts.services import pat_create, pat_revoke, user_password_change, user_set_role
from apps.accounts.tokens import jwt_pair_issue
from apps.core.errors import Unauthenticated
from conftest import PASSWORD
from tests.test_celery_worker import database_url_for_test_db, wait_until

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def cache_on(settings):
    settings.PRINCIPAL_CACHE_SECONDS = 5
    principal_cache_clear()
    yield
    principal_cache_clear()


def _pat(user, **kwargs) -> str:
    _row, plaintext = pat_create(user=user, name="cli", scopes=["todos:read", "profile:read"], **kwargs)
    return plaintext


def test_a_personal_access_token_and_its_roles_take_one_query(alice, django_assert_num_queries):
    token = _pat(alice)
    bearer_authenticate(raw_token=token, client_address="10.0.0.1")  # sets last_used_at
    with django_assert_num_queries(1):
        principal = principal_from_bearer(token)
    assert principal.user == alice
    assert principal.scopes == {"todos:read", "profile:read"}


def test_a_jwt_and_its_roles_take_one_query(alice, django_assert_num_queries):
    access = str(jwt_pair_issue(user=alice).access)
    with django_assert_num_queries(1):
        principal = principal_from_bearer(access)
    assert principal.user == alice
    assert "todos:write" in principal.scopes


def test_a_verified_token_is_answered_from_memory(alice, cache_on, django_assert_num_queries):
    token = _pat(alice)
    assert principal_from_bearer_cached(token) is None
    principal_from_bearer(token)
    with django_assert_num_queries(0):
        cached = principal_from_bearer_cached(token)
        again = principal_from_bearer(token)
    assert cached.user == alice and cached.token_id == again.token_id
    assert cached.scopes == {"todos:read", "profile:read"}


def test_each_hit_gets_its_own_user_object(alice, cache_on):
    token = _pat(alice)
    first = principal_from_bearer(token)
    first.user.timezone = "Europe/Berlin"
    assert principal_from_bearer(token).user.timezone == "UTC"


def test_a_hit_copies_every_field_and_the_rows_state(alice, cache_on):
    import dataclasses

    from apps.accounts.identity import BearerIdentity
    from apps.accounts.principal_cache import principal_cache_get

    # _copy builds the identity field by field: a field added to BearerIdentity must be added there.
    assert [field.name for field in dataclasses.fields(BearerIdentity)] == [
        "user",
        "personal_token",
        "jwt",
        "oauth_token",
    ]
    token = _pat(alice)
    principal_from_bearer(token)
    first, second = principal_cache_get(token), principal_cache_get(token)
    assert first.user is not second.user and first.personal_token is not second.personal_token
    assert first.personal_token.user is first.user
    assert first.user._state is not second.user._state and not first.user._state.adding
    assert first.user._state.db == "default"
    assert first.user._roles_memo == second.user._roles_memo
    first.user._state.fields_cache["probe"] = 1
    assert "probe" not in second.user._state.fields_cache


def test_it_keeps_tokens_apart(alice, bob, cache_on):
    alices, bobs = _pat(alice), _pat(bob)
    principal_from_bearer(alices)
    principal_from_bearer(bobs)
    assert principal_from_bearer_cached(alices).user == alice
    assert principal_from_bearer_cached(bobs).user == bob
    assert principal_from_bearer_cached(alices[:-1] + ("x" if alices[-1] != "x" else "y")) is None


def test_a_refused_token_is_never_cached(alice, cache_on):
    token = _pat(alice)
    wrong = token[:-4] + "AAAA"
    with pytest.raises(Unauthenticated):
        principal_from_bearer(wrong)
    assert principal_from_bearer_cached(wrong) is None


def test_expiry_is_exact_while_cached(alice, cache_on):
    expires_at = timezone.now() + dt.timedelta(seconds=1)
    token = _pat(alice, expires_at=expires_at)
    principal_from_bearer(token)
    assert principal_from_bearer_cached(token) is not None
    assert wait_until(lambda: timezone.now() > expires_at, timeout=5, interval=0.05)
    assert principal_from_bearer_cached(token) is None
    with pytest.raises(Unauthenticated) as refused:
        principal_from_bearer(token)
    assert refused.value.code == "token_expired"


def test_in_this_process_a_revocation_takes_effect_at_once(alice, cache_on):
    token = _pat(alice)
    principal_from_bearer(token)
    pat_revoke(token=PersonalAccessToken.objects.get(user=alice))
    assert principal_from_bearer_cached(token) is None
    with pytest.raises(Unauthenticated) as refused:
        principal_from_bearer(token)
    assert refused.value.code == "token_revoked"


def test_a_token_cached_before_a_password_change_commits_is_forgotten_at_the_commit(
    alice, cache_on, django_capture_on_commit_callbacks
):
    # Another request that authenticates between the change and its commit still reads the old
    # rows and caches them; the commit must clear that entry too.
    token = str(jwt_pair_issue(user=alice).access)
    identity = bearer_authenticate(raw_token=token, client_address=None)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        user_password_change(user=alice, old_password=PASSWORD, new_password="another-horse-battery-77")
        assert principal_from_bearer_cached(token) is None  # forgotten at once
        principal_cache_put(token, identity)  # what that other request, reading before the commit, caches
    assert principal_from_bearer_cached(token) is None
    with pytest.raises(Unauthenticated):
        principal_from_bearer(token)


def test_in_this_process_a_role_change_takes_effect_at_once(alice, cache_on):
    access = str(jwt_pair_issue(user=alice).access)
    assert "todos:write" in principal_from_bearer(access).scopes
    user_set_role(user=alice, role="auditor")
    assert principal_from_bearer_cached(access) is None
    assert principal_from_bearer(access).scopes == {"profile:read"}


# --- Across processes ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _whoami(port: int, token: str) -> int:
    body = {"tool_name": "whoami", "parameters": {}}
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.post(
        f"http://127.0.0.1:{port}/api/mcp/tools/invoke", json=body, headers=headers, timeout=10
    ).status_code


def test_a_revocation_reaches_another_process_within_the_cache_bound(transactional_db, alice, tmp_path):
    bound = 2.0
    token = _pat(alice)
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_test_db(),
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "PRINCIPAL_CACHE_SECONDS": str(bound),
    }
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port), "--lifespan", "on",
         "--no-access-log", "--no-proxy-headers"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        assert wait_until(lambda: _reachable(port), timeout=60), (tmp_path / "server.log").read_text()[-2000:]
        assert _whoami(port, token) == 200  # verified and now cached in the server process
        pat_revoke(token=PersonalAccessToken.objects.get(user=alice))  # in this process
        revoked_at = time.monotonic()
        assert wait_until(lambda: _whoami(port, token) == 401, timeout=bound + 5, interval=0.1)
        # Refused within the stated bound (plus the time one request takes on a busy machine).
        assert time.monotonic() - revoked_at <= bound + 3
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
