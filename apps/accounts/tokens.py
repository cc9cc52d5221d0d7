"""JWT sessions: issue, rotate, revoke and verify access and refresh tokens.

Every token carries the user's credential stamp (claim "cv", see User.credential_stamp) and its
session family (claim "fam", see RefreshTokenFamily). An access token is accepted only while the
stamp still matches the stored user and the family is live, which one query answers; so a
password change, a deactivation, "sign out everywhere", a logout or a detected refresh-token theft
ends the access tokens already handed out, not only the refresh chain.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token
from rest_framework_simplejwt.utils import datetime_from_epoch

from apps.accounts.models import RefreshTokenFamily, User
from apps.accounts.principal_cache import principal_cache_clear_on_commit
from apps.accounts.scopes import role_annotations, user_roles_from_annotations
from apps.audit.services import audit_event_record
from apps.core.errors import InvalidInput, Unauthenticated

FAMILY_CLAIM = "fam"
STAMP_CLAIM = "cv"


@dataclass(frozen=True)
class TokenPair:
    refresh: RefreshToken
    access: AccessToken

    def as_dict(self) -> dict[str, str]:
        return {"refresh": str(self.refresh), "access": str(self.access)}


def _refresh_new(*, user: User, family: RefreshTokenFamily) -> RefreshToken:
    token = RefreshToken()
    token[jwt_settings.USER_ID_CLAIM] = str(user.pk)
    token[FAMILY_CLAIM] = str(family.pk)
    token[STAMP_CLAIM] = user.credential_stamp()
    # The row lets operators see and revoke sessions. It keeps the token's id, never the token:
    # a stored refresh token is a usable credential.
    OutstandingToken.objects.create(
        user=user,
        jti=token[jwt_settings.JTI_CLAIM],
        token="",
        created_at=token.current_time,
        expires_at=datetime_from_epoch(token["exp"]),
    )
    return token


def _blacklist(jtis: list[str]) -> None:
    outstanding = OutstandingToken.objects.filter(jti__in=jtis)
    BlacklistedToken.objects.bulk_create([BlacklistedToken(token=row) for row in outstanding], ignore_conflicts=True)


@transaction.atomic
def jwt_pair_issue(*, user: User) -> TokenPair:
    """A new session (login, password change): a fresh family with its first refresh token."""
    family = RefreshTokenFamily(user=user)
    refresh = _refresh_new(user=user, family=family)
    family.current_jti = refresh[jwt_settings.JTI_CLAIM]
    family.save()
    return TokenPair(refresh=refresh, access=refresh.access_token)


def _refresh_parse(raw_refresh: str) -> RefreshToken:
    try:
        # verify=False skips simplejwt's separate blacklist query; the signature and expiry are still
        # checked while decoding, and Token.verify checks the type and id. The family row decides.
        token = RefreshToken(raw_refresh, verify=False)
        Token.verify(token)
    except ExpiredTokenError:
        raise Unauthenticated("The refresh token has expired.", code="token_not_valid") from None
    except TokenError:
        raise Unauthenticated("The refresh token is invalid.", code="token_not_valid") from None
    if not _claims_present(token):
        # Tokens from before families existed: log in again.
        raise Unauthenticated("The refresh token is invalid.", code="token_not_valid")
    return token


def _claims_present(token: Token) -> bool:
    family = token.get(FAMILY_CLAIM)
    if not isinstance(family, str) or not isinstance(token.get(STAMP_CLAIM), str):
        return False
    try:
        uuid.UUID(family)
    except ValueError:
        return False
    return bool(token.get(jwt_settings.USER_ID_CLAIM))


def _family_revoke(*, family: RefreshTokenFamily, reason: str) -> None:
    family.revoked_at = timezone.now()
    family.revoked_reason = reason
    family.save(update_fields=["revoked_at", "revoked_reason"])
    _blacklist([family.current_jti])


def _family_locked(token: RefreshToken) -> RefreshTokenFamily | None:
    """The token's family, row-locked so concurrent redemptions of one token queue up here."""
    family = (
        RefreshTokenFamily.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk=token[FAMILY_CLAIM])
        .first()
    )
    if family is None or str(family.user_id) != str(token[jwt_settings.USER_ID_CLAIM]):
        return None
    return family


def _reused(family: RefreshTokenFamily | None) -> bool:
    """Revoked just now for reuse, which refresh_token.reuse_detected already recorded."""
    return family is not None and family.revoked_reason == "reuse_detected" and getattr(family, "_reuse_now", False)


def _session_event(
    action: str, *, family: RefreshTokenFamily | None, refusal: InvalidInput | Unauthenticated | None = None
) -> None:
    """A refresh or a logout, successful or refused, as one event (the session family is the target)."""
    audit_event_record(
        action=action,
        category="auth",
        actor=family.user if family is not None else None,
        outcome="success" if refusal is None else "failure",
        error_code=refusal.code if refusal is not None else "",
        target_type="refresh_family",
        target_id=family.pk if family is not None else "",
        data={"reason": refusal.message} if refusal is not None else {},
    )


def _reuse_detected(*, family: RefreshTokenFamily, door: str) -> None:
    _family_revoke(family=family, reason="reuse_detected")
    family._reuse_now = True
    audit_event_record(
        action="refresh_token.reuse_detected",
        actor=family.user,
        outcome="denied",
        target_type="refresh_family",
        target_id=str(family.pk),
        data={"door": door, "family_created_at": family.created_at.isoformat()},
    )


def refresh_token_rotate(*, raw_refresh: str) -> TokenPair:
    """Redeem a refresh token once for a new pair.

    Exactly one redemption of a token can succeed: the family row is locked and only its current
    token is accepted. Presenting an already rotated token is a theft signal (RFC 9700 4.14.2):
    it is refused and the whole family is revoked, so neither holder keeps the session.
    """
    token = _refresh_parse(raw_refresh)
    refusal: Unauthenticated | None = None
    with transaction.atomic():
        family = _family_locked(token)
        if family is None:
            # Unknown family, someone else's, or the user was deleted (families go with the user).
            refusal = Unauthenticated("The refresh token is invalid.", code="token_not_valid")
        elif family.revoked_at is not None:
            refusal = Unauthenticated("The refresh token was revoked.", code="token_not_valid")
        elif family.current_jti != token[jwt_settings.JTI_CLAIM]:
            _reuse_detected(family=family, door="refresh")
            refusal = Unauthenticated("The refresh token was already used.", code="token_not_valid")
        elif not family.user.is_active or not hmac.compare_digest(
            family.user.credential_stamp(), str(token[STAMP_CLAIM])
        ):
            # The password changed (or the account was disabled) since this session began.
            _family_revoke(family=family, reason="credentials_changed")
            refusal = Unauthenticated("The refresh token was revoked.", code="token_not_valid")
        elif BlacklistedToken.objects.filter(token__jti=family.current_jti).exists():
            # Blacklisted directly (simplejwt's own admin or API): honour it for the whole session.
            _family_revoke(family=family, reason="blacklisted")
            refusal = Unauthenticated("The refresh token was revoked.", code="token_not_valid")
        else:
            user = family.user
            refresh = _refresh_new(user=user, family=family)
            _blacklist([family.current_jti])
            family.current_jti = refresh[jwt_settings.JTI_CLAIM]
            family.rotated_at = timezone.now()
            family.save(update_fields=["current_jti", "rotated_at"])
            _session_event("auth.token_refreshed", family=family)
            return TokenPair(refresh=refresh, access=refresh.access_token)
        if not _reused(family):  # reuse has its own event, refresh_token.reuse_detected
            _session_event("auth.token_refresh_failed", family=family, refusal=refusal)
    # Raised after the block commits: the revocations above must stick.
    raise refusal


def refresh_token_revoke(*, raw_refresh: str) -> None:
    """Log out: the session's refresh token and its access tokens stop working."""
    try:
        token = _refresh_parse(raw_refresh)
    except Unauthenticated as exc:
        raise InvalidInput(exc.message, code="token_not_valid") from None
    refusal: InvalidInput | None = None
    with transaction.atomic():
        family = _family_locked(token)
        if family is None or family.revoked_at is not None:
            refusal = InvalidInput("The refresh token is invalid or already revoked.", code="token_not_valid")
        elif family.current_jti != token[jwt_settings.JTI_CLAIM]:
            _reuse_detected(family=family, door="logout")  # its own event
            refusal = InvalidInput("The refresh token is invalid or already revoked.", code="token_not_valid")
        else:
            _family_revoke(family=family, reason="logout")
        if refusal is None or not _reused(family):
            _session_event("auth.logout", family=family, refusal=refusal)
    if refusal is not None:
        raise refusal


@transaction.atomic
def jwt_session_revoke(*, jti: str, actor: User | None) -> bool:
    """Revoke one session by its refresh token's id (what an operator sees), access tokens included.

    Returns False when no live session has that token as its newest (already rotated or revoked);
    the token itself is blacklisted either way.
    """
    family = RefreshTokenFamily.objects.select_for_update().filter(current_jti=jti, revoked_at__isnull=True).first()
    _blacklist([jti])
    if family is None:
        return False
    _family_revoke(family=family, reason="revoked")
    audit_event_record(
        action="refresh_token.revoked",
        actor=actor,
        target_type="refresh_family",
        target_id=str(family.pk),
        data={"owner_id": family.user_id, "jti": jti},
    )
    return True


def jwt_sessions_revoke(*, user: User, reason: str) -> int:
    """End every JWT session of the user (their access tokens die with the family). Returns how many."""
    live = RefreshTokenFamily.objects.filter(user=user, revoked_at__isnull=True)
    jtis = list(live.values_list("current_jti", flat=True))
    count = live.update(revoked_at=timezone.now(), revoked_reason=reason)
    _blacklist(jtis)
    # A queryset update sends no signal; this process forgets at once (and at commit), others within
    # the cache's bound.
    principal_cache_clear_on_commit()
    return count


def access_token_authenticate(*, raw_token: str) -> tuple[User, AccessToken]:
    """A presented access token -> (user, token), in one query, or Unauthenticated.

    Codes: token_expired, token_invalid (malformed, forged, unknown or inactive user, no claims),
    token_revoked (the session ended or the user's credentials changed since it was issued).
    """
    try:
        token = AccessToken(raw_token)
    except ExpiredTokenError:
        raise Unauthenticated("The access token has expired.", code="token_expired") from None
    except TokenError:
        raise Unauthenticated("The access token is invalid.", code="token_invalid") from None
    if not _claims_present(token):
        raise Unauthenticated("The access token is invalid.", code="token_invalid")
    live_family = RefreshTokenFamily.objects.filter(
        pk=token[FAMILY_CLAIM], user_id=OuterRef("pk"), revoked_at__isnull=True
    )
    user: Any = (
        User.objects.filter(**{jwt_settings.USER_ID_FIELD: token[jwt_settings.USER_ID_CLAIM]})
        .annotate(session_live=Exists(live_family), **role_annotations("pk"))
        .first()
    )
    if user is not None:
        user_roles_from_annotations(user, user)
    if user is None or not user.is_active:
        raise Unauthenticated("The access token is invalid.", code="token_invalid")
    if not user.session_live or not hmac.compare_digest(user.credential_stamp(), str(token[STAMP_CLAIM])):
        raise Unauthenticated("The access token was revoked; sign in again.", code="token_revoked")
    return user, token
