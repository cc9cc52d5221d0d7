"""Account services: the only code that creates users, changes roles or revokes tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from apps.accounts.models import PAT_PREFIX, PersonalAccessToken, RefreshTokenFamily, User
from apps.accounts.roles import ROLES, STAFF_ROLES, roles_grantable_by, roles_sync, user_manageable_by
from apps.accounts.scopes import scopes_for_user, scopes_normalise
from apps.accounts.tokens import TokenPair, jwt_pair_issue, jwt_session_revoke, jwt_sessions_revoke
from apps.audit.services import audit_event_record
from apps.core.errors import Conflict, Forbidden, InvalidInput, RateLimited, Unauthenticated
from apps.core.throttle import throttle_hit, throttle_retry_after


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    email: str = "",
    role: str = "user",
    timezone_name: str = "UTC",
) -> User:
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}.", details={"role": [f"Must be one of {list(ROLES)}."]})
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict("That username is taken.", details={"username": ["That username is taken."]})
    user = User(username=username, email=email, timezone=timezone_name)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput("The password is too weak.", details={"password": exc.messages}) from None
    user.set_password(password)
    try:
        user.full_clean()
    except ValidationError as exc:
        raise InvalidInput("The account details are invalid.", details=exc.message_dict) from None
    user.save()
    user_set_role(user=user, role=role)
    return user


@transaction.atomic
def user_set_role(*, user: User, role: str) -> User:
    """Give the user exactly one role; staff access follows the role."""
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}.")
    group = Group.objects.filter(name=role).first()
    if group is None:
        roles_sync()
        group = Group.objects.get(name=role)
    user.groups.remove(*Group.objects.filter(name__in=ROLES).exclude(name=role))
    user.groups.add(group)
    user.is_staff = role in STAFF_ROLES or user.is_superuser
    user.save(update_fields=["is_staff"])
    user.__dict__.pop("_roles_memo", None)  # see scopes.user_roles
    return user


def user_update_profile(*, user: User, email: str | None = None, timezone_name: str | None = None) -> User:
    if email is not None:
        user.email = email
    if timezone_name is not None:
        user.timezone = timezone_name
    try:
        user.full_clean()
    except ValidationError as exc:
        raise InvalidInput("The profile is invalid.", details=exc.message_dict) from None
    user.save(update_fields=["email", "timezone"])
    return user


# --- Account administration (the admin's user pages call these) -------------------------------------


@transaction.atomic
def user_role_change(*, user: User, role: str, actor: User) -> User:
    """Give `user` the role `role` on `actor`'s authority: operators give user or auditor to
    ordinary accounts, only superusers give operator or touch staff and superuser accounts."""
    if not user_manageable_by(actor=actor, user=user):
        raise Forbidden("You may not change this account.", code="account_not_manageable")
    if role not in roles_grantable_by(actor):
        raise Forbidden(f"You may not give the {role!r} role.", code="role_not_grantable")
    before = sorted(user.roles)
    if before == [role]:
        return user
    user_set_role(user=user, role=role)
    audit_event_record(
        action="user.role_changed",
        actor=actor,
        target_type="user",
        target_id=user.pk,
        data={"username": user.username, "from": before, "to": role},
    )
    return user


class _OneAccountPasswordResetForm(PasswordResetForm):
    """Django's reset mail (token link, templates) for exactly one account, not every one sharing its email."""

    def __init__(self, *, user: User) -> None:
        super().__init__(data={"email": user.email})
        self.account = user

    def get_users(self, email: str):
        yield self.account


def user_password_reset_send(*, user: User, actor: User) -> None:
    """Mail `user` a one-time link to choose a password: nobody types another person's password."""
    if not user_manageable_by(actor=actor, user=user):
        raise Forbidden("You may not change this account.", code="account_not_manageable")
    if not user.email:
        raise InvalidInput(
            f"{user.username} has no email address to send a reset link to.",
            details={"email": ["Add an email address first."]},
        )
    form = _OneAccountPasswordResetForm(user=user)
    form.is_valid()
    public = urlsplit(settings.PUBLIC_BASE_URL)
    form.save(domain_override=public.netloc, use_https=public.scheme == "https", from_email=None)
    audit_event_record(
        action="user.password_reset_sent",
        actor=actor,
        target_type="user",
        target_id=user.pk,
        data={"username": user.username},
    )


def refresh_token_revoke_by_id(*, token: OutstandingToken, actor: User) -> bool:
    """Revoke the session an issued refresh token belongs to, by its row (the admin never holds the token).

    Returns False when it was already revoked or rotated.
    """
    return jwt_session_revoke(jti=token.jti, actor=actor)


@dataclass(frozen=True)
class PasswordChanged:
    """What a password change hands back: a new session for the caller, and the tokens that survived."""

    tokens: TokenPair
    personal_tokens: list[PersonalAccessToken]


@transaction.atomic
def user_password_change(*, user: User, old_password: str, new_password: str) -> PasswordChanged:
    """Change the caller's own password and end every other JWT session and browser session.

    The credential stamp moves with the password hash, so every access and refresh token issued
    before stops working; the families are revoked too, for the record. Personal access tokens
    survive (see README: they are separate, scoped, individually revocable credentials) and are
    listed back so the user can revoke any they do not recognise.
    """
    # Wrong current passwords are counted per user, and once over the limit even the right one
    # waits: a stolen access token must not become an oracle for the password.
    failures_key = ("password-change-failed", str(user.pk))
    retry_after = throttle_retry_after(rate=settings.PASSWORD_CHANGE_FAILURE_LIMIT, key=failures_key)
    if retry_after is not None:
        raise RateLimited(
            "Too many wrong passwords; try again later.", retry_after=retry_after, details={"retry_after": retry_after}
        )
    if not user.check_password(old_password):
        throttle_hit(
            rate=settings.PASSWORD_CHANGE_FAILURE_LIMIT,
            key=failures_key,
            message="Too many wrong passwords; try again later.",
        )
        raise InvalidInput(
            "The current password is wrong.",
            code="invalid_password",
            details={"old_password": ["The current password is wrong."]},
        )
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as exc:
        raise InvalidInput("The new password is too weak.", details={"new_password": exc.messages}) from None
    if old_password == new_password:
        raise InvalidInput(
            "The new password is the same as the current one.",
            details={"new_password": ["Choose a password you have not been using."]},
        )
    user.set_password(new_password)
    user.save(update_fields=["password"])
    ended = jwt_sessions_revoke(user=user, reason="password_changed")
    personal_tokens = list(PersonalAccessToken.objects.filter(user=user, revoked_at__isnull=True))
    personal_tokens = [token for token in personal_tokens if not token.is_expired]
    audit_event_record(
        action="user.password_changed",
        actor=user,
        target_type="user",
        target_id=user.pk,
        data={"sessions_ended": ended, "access_tokens_active": [token.prefix for token in personal_tokens]},
    )
    return PasswordChanged(tokens=jwt_pair_issue(user=user), personal_tokens=personal_tokens)


def _pats_revoke_all(*, user: User) -> list[str]:
    live = PersonalAccessToken.objects.filter(user=user, revoked_at__isnull=True)
    prefixes = [token.prefix for token in live]
    live.update(revoked_at=timezone.now())
    return prefixes


@transaction.atomic
def user_sign_out_everywhere(*, user: User, actor: User | None) -> None:
    """An operator's (or the user's) "sign out everywhere": every session and token of the user ends.

    Moves the credential epoch (every JWT and browser session carries a stamp of it), revokes the
    refresh-token families and the personal access tokens. The password stays as it is.
    """
    User.objects.filter(pk=user.pk).update(credential_epoch=F("credential_epoch") + 1)
    user.refresh_from_db(fields=["credential_epoch"])
    ended = jwt_sessions_revoke(user=user, reason="signed_out_everywhere")
    revoked = _pats_revoke_all(user=user)
    audit_event_record(
        action="user.signed_out_everywhere",
        actor=actor,
        target_type="user",
        target_id=user.pk,
        data={"sessions_ended": ended, "access_tokens_revoked": revoked},
    )


@transaction.atomic
def user_set_active(*, user: User, is_active: bool, actor: User | None) -> User:
    """Activate or deactivate an account; deactivating ends every session and token (see below)."""
    if user.is_active != is_active:
        user.is_active = is_active
        user._credential_change_actor = actor  # read by the deactivation hook for its audit event
        user.save(update_fields=["is_active"])
        if is_active:
            audit_event_record(action="user.activated", actor=actor, target_type="user", target_id=user.pk)
    return user


def user_credentials_revoke_on_deactivation(*, user: User, actor: User | None = None) -> None:
    """Called when an account is deactivated, whichever door did it (admin form, service, shell).

    The save that deactivated the user already moved its credential epoch (User.save). Revoking the
    personal access tokens and sessions outright means a later reactivation brings none of them back.
    """
    with transaction.atomic():
        ended = jwt_sessions_revoke(user=user, reason="deactivated")
        revoked = _pats_revoke_all(user=user)
        audit_event_record(
            action="user.deactivated",
            actor=actor,
            target_type="user",
            target_id=user.pk,
            data={"sessions_ended": ended, "access_tokens_revoked": revoked},
        )


def tokens_flush_expired() -> int:
    """Delete refresh-token bookkeeping rows that have expired (their blacklist rows go with them).

    A session family goes once its newest refresh token has expired: nothing it issued still works.
    """
    now = timezone.now()
    deleted, _ = OutstandingToken.objects.filter(expires_at__lte=now).delete()
    cutoff = now - jwt_settings.REFRESH_TOKEN_LIFETIME
    RefreshTokenFamily.objects.filter(
        Q(rotated_at__lt=cutoff) | Q(rotated_at__isnull=True, created_at__lt=cutoff)
    ).delete()
    return deleted


# --- Personal access tokens -----------------------------------------------------------------------

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
    token = PersonalAccessToken.objects.select_related("user").filter(lookup_id=lookup_id).first()
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
