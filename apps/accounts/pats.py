"""Personal access token services: create, revoke and authenticate the long-lived tokens MCP
clients use (`gw_pat_<lookup>_<secret>`, stored as a peppered digest)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import PAT_PREFIX, PersonalAccessToken, User
from apps.accounts.scopes import role_annotations, scopes_for_user, scopes_normalise, user_roles_from_annotations
from apps.audit.services import audit_event_record
from apps.core.errors import Conflict, Forbidden, InvalidInput, Unauthenticated

PAT_LOOKUP_BYTES = 6  # 12 hex characters: enough to make lookup collisions practically impossible
PAT_SECRET_BYTES = 32


def _pat_pepper(pepper_id: str) -> bytes | None:
    if pepper_id == settings.PAT_PEPPER_ID:
        return settings.PAT_PEPPER.encode()
    previous = settings.PAT_PEPPERS_PREVIOUS.get(pepper_id)
    return previous.encode() if previous else None


def _pat_digest(*, secret: str, pepper: bytes) -> str:
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


def _pat_split(raw_token: str) -> tuple[str, str] | None:
    """'gw_pat_<lookup>_<secret>' -> (lookup, secret), or None when it is not shaped like ours."""
    if not isinstance(raw_token, str) or not raw_token.startswith(PAT_PREFIX) or len(raw_token) > 200:
        return None
    lookup_id, sep, secret = raw_token[len(PAT_PREFIX) :].partition("_")
    if not sep or len(lookup_id) != PAT_LOOKUP_BYTES * 2 or not secret:
        return None
    if any(char not in "0123456789abcdef" for char in lookup_id):
        return None
    return lookup_id, secret


def pat_mask(raw_token: str) -> str:
    """What a log or audit row may say about a presented token: its public prefix at most."""
    parts = _pat_split(raw_token) if isinstance(raw_token, str) else None
    if parts is None:
        return "[unrecognised token]"
    return f"{PAT_PREFIX}{parts[0]}…"


@transaction.atomic
def pat_create(
    *, user: User, name: str, scopes: list[str], expires_at: dt.datetime | None = None
) -> tuple[PersonalAccessToken, str]:
    """Create a token; returns the row and the plaintext, which is never available again."""
    try:
        wanted = scopes_normalise(scopes)
    except ValueError as exc:
        raise InvalidInput(str(exc), details={"scopes": [str(exc)]}) from None
    if not wanted:
        raise InvalidInput("Choose at least one scope.", details={"scopes": ["Choose at least one scope."]})
    allowed = scopes_for_user(user)
    refused = [scope for scope in wanted if scope not in allowed]
    if refused:
        raise Forbidden("Your role does not allow these scopes.", code="scope_not_allowed", details={"scopes": refused})
    if expires_at is not None:
        if timezone.is_naive(expires_at):
            raise InvalidInput("The expiry needs a time zone.", details={"expires_at": ["Give a timezone-aware time."]})
        if expires_at <= timezone.now():
            raise InvalidInput("The expiry is in the past.", details={"expires_at": ["Must be in the future."]})
    active = PersonalAccessToken.objects.filter(user=user, revoked_at__isnull=True)
    if active.count() >= settings.PAT_MAX_PER_USER:
        raise Conflict(
            f"You already have {settings.PAT_MAX_PER_USER} active tokens; revoke one first.", code="too_many_tokens"
        )
    secret = secrets.token_urlsafe(PAT_SECRET_BYTES)
    while True:
        lookup_id = secrets.token_hex(PAT_LOOKUP_BYTES)
        if not PersonalAccessToken.objects.filter(lookup_id=lookup_id).exists():
            break
    token = PersonalAccessToken(
        user=user,
        name=(name or "").strip(),
        lookup_id=lookup_id,
        digest=_pat_digest(secret=secret, pepper=settings.PAT_PEPPER.encode()),
        pepper_id=settings.PAT_PEPPER_ID,
        scopes=wanted,
        expires_at=expires_at,
    )
    try:
        token.full_clean()
    except ValidationError as exc:
        raise InvalidInput("The token details are invalid.", details=exc.message_dict) from None
    token.save()
    audit_event_record(
        action="access_token.created",
        actor=user,
        target_type="access_token",
        target_id=token.pk,
        data={
            "name": token.name,
            "prefix": token.prefix,
            "scopes": wanted,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return token, f"{token.prefix}_{secret}"


@transaction.atomic
def pat_revoke(*, token: PersonalAccessToken, actor: User | None = None) -> PersonalAccessToken:
    """Revoke for good; revoking twice keeps the first time."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_event_record(
            action="access_token.revoked",
            actor=actor or token.user,
            target_type="access_token",
            target_id=token.pk,
            data={"prefix": token.prefix, "owner_id": token.user_id, "name": token.name},
        )
    return token


class TokenRefused(Unauthenticated):
    """A presented token was refused; `owner` is the user it names, when it names one.

    Not audited here: the bearer door (apps.accounts.bearer) counts failures per address and writes
    one aggregated audit event per address and window, so guessing cannot flood the trail.
    """

    def __init__(self, message: str, *, code: str, owner: User | None = None, token_id: int | None = None) -> None:
        super().__init__(message, code=code)
        self.owner = owner
        self.token_id = token_id


def _pat_refuse(*, code: str, message: str, token: PersonalAccessToken | None = None) -> None:
    raise TokenRefused(
        message,
        code=code,
        owner=token.user if token is not None else None,
        token_id=token.pk if token is not None else None,
    )


def pat_authenticate(*, raw_token: str) -> PersonalAccessToken:
    """Presented plaintext -> the live token row (with its user), or Unauthenticated.

    Codes: token_invalid (unknown, malformed, wrong secret, inactive user), token_revoked, token_expired.
    """
    parts = _pat_split(raw_token)
    if parts is None:
        _pat_refuse(code="token_invalid", message="The access token is invalid.")
    lookup_id, secret = parts
    # One round trip: the token, its user and the user's roles (for the principal's scopes).
    token = (
        PersonalAccessToken.objects.select_related("user")
        .annotate(**role_annotations("user_id"))
        .filter(lookup_id=lookup_id)
        .first()
    )
    if token is not None:
        user_roles_from_annotations(token.user, token)
    pepper = _pat_pepper(token.pepper_id) if token is not None else None
    if token is None or pepper is None:
        # Spend the same HMAC work as a real check so timing does not reveal which lookups exist.
        _pat_digest(secret=secret, pepper=settings.PAT_PEPPER.encode())
        _pat_refuse(code="token_invalid", message="The access token is invalid.")
    if not hmac.compare_digest(_pat_digest(secret=secret, pepper=pepper), token.digest):
        _pat_refuse(code="token_invalid", message="The access token is invalid.", token=token)
    if token.revoked_at is not None:
        _pat_refuse(code="token_revoked", message="The access token was revoked.", token=token)
    if token.is_expired:
        _pat_refuse(code="token_expired", message="The access token has expired.", token=token)
    if not token.user.is_active:
        _pat_refuse(code="token_invalid", message="The access token is invalid.", token=token)
    now = timezone.now()
    updates: dict[str, object] = {}
    if token.pepper_id != settings.PAT_PEPPER_ID:
        # Re-digest under the current pepper on first use after a rotation; old peppers can then retire.
        updates["digest"] = _pat_digest(secret=secret, pepper=settings.PAT_PEPPER.encode())
        updates["pepper_id"] = settings.PAT_PEPPER_ID
    resolution = dt.timedelta(seconds=settings.PAT_LAST_USED_RESOLUTION_SECONDS)
    if token.last_used_at is None or now - token.last_used_at >= resolution:
        # Coarse on purpose: one UPDATE per token per interval, not one per call.
        updates["last_used_at"] = now
    if updates:
        PersonalAccessToken.objects.filter(pk=token.pk).update(**updates)
        for field, value in updates.items():
            setattr(token, field, value)
    return token
