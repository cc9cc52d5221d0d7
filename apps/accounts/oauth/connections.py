"""A user's connected apps: remembered consent, the list on /settings/connections/, Disconnect (of one
app, or of all when the user signs out everywhere or is deactivated), and the expiry of dynamic
registrations nobody ever used."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
)

from apps.accounts.models import OAuthClientBlock, OAuthConnection, User
from apps.accounts.oauth.events import client_host, client_label, oauth_event_record
from apps.accounts.principal_cache import principal_cache_clear_on_commit
from apps.core.errors import NotFound


def connection_scopes(*, user: User, application: Any) -> frozenset[str]:
    """The scopes this user already allowed this client (empty when never connected)."""
    row = OAuthConnection.objects.filter(user=user, application=application).values_list("scopes", flat=True).first()
    return frozenset(row or ())


@transaction.atomic
def connection_consent_record(*, user: User, application: Any, scopes: list[str], allowed: bool) -> None:
    """The user answered the consent page: remember what was allowed (added to earlier consent)."""
    oauth_event_record(
        "oauth.consent_allowed" if allowed else "oauth.consent_denied",
        actor=user,
        client=application,
        outcome="success" if allowed else "denied",
        host=client_host(application),
        scopes=sorted(scopes),
    )
    if not allowed:
        return
    connection, created = OAuthConnection.objects.select_for_update().get_or_create(
        user=user, application=application, defaults={"scopes": sorted(scopes)}
    )
    if not created:
        connection.scopes = sorted(set(connection.scopes) | set(scopes))
        connection.save(update_fields=["scopes", "updated_at"])


@dataclass(frozen=True)
class ConnectedApp:
    id: int
    name: str
    host: str
    scopes: list[str]
    connected_at: dt.datetime
    last_used_at: dt.datetime | None


def connection_list(*, user: User) -> list[ConnectedApp]:
    rows = OAuthConnection.objects.filter(user=user).select_related("application").order_by("-created_at")
    return [
        ConnectedApp(
            id=row.pk,
            name=client_label(row.application),
            host=client_host(row.application),
            scopes=list(row.scopes),
            connected_at=row.created_at,
            last_used_at=row.last_used_at,
        )
        for row in rows
    ]


def _client_tokens_revoke(*, user: User | None, application: Any | None) -> int:
    """Every access token, refresh token and pending code of this client for this user; of this client
    for every user (`user=None`); or of every client for this user (`application=None`).

    Returns how many access tokens ended."""
    if user is None and application is None:
        raise ValueError("Name a user, a client or both: this never revokes every grant of the server.")
    which: dict[str, Any] = {"user": user} if user is not None else {"user__isnull": False}
    if application is not None:
        which["application"] = application
    now = timezone.now()
    get_refresh_token_model().objects.filter(revoked__isnull=True, **which).update(revoked=now, updated=now)
    deleted, _ = get_access_token_model().objects.filter(**which).delete()
    get_grant_model().objects.filter(**which).delete()
    return deleted


@transaction.atomic
def connection_disconnect(*, user: User, connection_id: int) -> None:
    """Disconnect: the connection and every token of it, at once (404 for another user's connection)."""
    connection = (
        OAuthConnection.objects.select_for_update()
        .select_related("application")
        .filter(pk=connection_id, user=user)
        .first()
    )
    if connection is None:
        raise NotFound("No such connected app.")
    application = connection.application
    revoked = _client_tokens_revoke(user=user, application=application)
    connection.delete()
    oauth_event_record("oauth.disconnected", actor=user, client=application, access_tokens_revoked=revoked)
    principal_cache_clear_on_commit()


@transaction.atomic
def connections_disconnect_all(*, user: User) -> list[str]:
    """Disconnect every app of the user at once, for "sign out everywhere" and deactivation: every
    token and pending code ends and the connections (remembered consent) go, as Disconnect does for
    one, so no app can act for the user again without the user signing in and allowing it anew.

    Returns the names of the clients that lost a connection or a grant, for the caller's own event
    (which records the whole act, so no `oauth.disconnected` per client)."""
    mine = {"user": user, "application": OuterRef("pk")}
    clients = get_application_model().objects.filter(
        Exists(OAuthConnection.objects.filter(**mine))
        | Exists(get_access_token_model().objects.filter(**mine))
        | Exists(get_refresh_token_model().objects.filter(revoked__isnull=True, **mine))
        | Exists(get_grant_model().objects.filter(**mine))
    )
    names = sorted(client_label(application) for application in clients)
    _client_tokens_revoke(user=user, application=None)
    OAuthConnection.objects.filter(user=user).delete()
    principal_cache_clear_on_commit()
    return names


@transaction.atomic
def oauth_client_block(*, application: Any, actor: User) -> None:
    """An operator disables a client: no sign-in, no refresh, its live tokens revoked."""
    OAuthClientBlock.objects.get_or_create(application=application, defaults={"blocked_by": actor})
    revoked = _client_tokens_revoke(user=None, application=application)
    oauth_event_record(
        "oauth.client_disabled", actor=actor, client=application, category="admin", access_tokens_revoked=revoked
    )
    principal_cache_clear_on_commit()


@transaction.atomic
def oauth_client_unblock(*, application: Any, actor: User) -> None:
    deleted, _ = OAuthClientBlock.objects.filter(application=application).delete()
    if deleted:
        oauth_event_record("oauth.client_enabled", actor=actor, client=application, category="admin")


def oauth_unused_clients_delete() -> int:
    """Dynamic registrations older than OAUTH_UNUSED_CLIENT_HOURS that never signed anyone in.

    A registration is free to make, so unused ones must not pile up. Its own registration access
    token (RFC 7592, no user) does not count as use.
    """
    cutoff = timezone.now() - dt.timedelta(hours=settings.OAUTH_UNUSED_CLIENT_HOURS)
    application_model = get_application_model()
    unused = (
        application_model.objects.filter(
            registration_source=application_model.RegistrationSource.DCR, created__lt=cutoff
        )
        .annotate(
            connected=Exists(OAuthConnection.objects.filter(application=OuterRef("pk"))),
            signed_in=Exists(get_access_token_model().objects.filter(application=OuterRef("pk"), user__isnull=False)),
            refreshed=Exists(get_refresh_token_model().objects.filter(application=OuterRef("pk"))),
            pending=Exists(get_grant_model().objects.filter(application=OuterRef("pk"))),
        )
        .filter(connected=False, signed_in=False, refreshed=False, pending=False)
    )
    count = 0
    for application in unused.iterator():
        with transaction.atomic():
            oauth_event_record(
                "oauth.client_expired", client=application, registered_at=application.created.isoformat()
            )
            application.delete()
        count += 1
    return count
