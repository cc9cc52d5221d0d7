"""Account services: the only code that creates users, changes roles or revokes tokens."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from apps.accounts.models import PersonalAccessToken, RefreshTokenFamily, User
from apps.accounts.oauth.connections import ConnectedApp, connection_list, connections_disconnect_all
from apps.accounts.pats import (  # noqa: F401 - re-exported: PAT services lived here
    PAT_LOOKUP_BYTES,
    PAT_SECRET_BYTES,
    TokenRefused,
    pat_authenticate,
    pat_create,
    pat_mask,
    pat_revoke,
)
from apps.accounts.principal_cache import principal_cache_clear_on_commit
from apps.accounts.roles import ROLES, STAFF_ROLES, roles_grantable_by, roles_sync, user_manageable_by
from apps.accounts.tokens import TokenPair, jwt_pair_issue, jwt_session_revoke, jwt_sessions_revoke
from apps.audit.services import audit_event_record
from apps.core.database import after_commit_released
from apps.core.errors import Conflict, Forbidden, InvalidInput, RateLimited, ServiceUnavailable
from apps.core.throttle import throttle_hit, throttle_key, throttle_retry_after

logger = logging.getLogger(__name__)


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


def user_register(
    *, username: str, password: str, email: str = "", timezone_name: str = "UTC", client_address: str
) -> User:
    """Self sign-up, whichever door (REST or the sign-up page): open only when REGISTRATION_OPEN, limited
    per address and globally. Every attempt counts, valid or not: a refusal says which names exist."""
    if not settings.REGISTRATION_OPEN:
        raise Forbidden("Self sign-up is turned off on this server.", code="registration_closed")
    throttle_hit(
        rate=settings.REGISTRATION_RATE_PER_ADDRESS,
        key=("register", client_address),
        message="Too many sign-ups from this address; try again later.",
    )
    throttle_hit(
        rate=settings.REGISTRATION_RATE_GLOBAL,
        key=("register", "all"),
        message="Too many sign-ups right now; try again later.",
    )
    with transaction.atomic():
        user = user_create(username=username, password=password, email=email, timezone_name=timezone_name)
        # Recorded as the new user's own act.
        audit_event_record(
            action="user.signed_up",
            category="auth",
            actor=user,
            target_type="user",
            target_id=user.pk,
            data={"username": user.username, "timezone": user.timezone},
        )
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


@transaction.atomic
def user_update_profile(*, user: User, email: str | None = None, timezone_name: str | None = None) -> User:
    changed = [name for name, value in (("email", email), ("timezone", timezone_name)) if value is not None]
    if email is not None:
        user.email = email
    if timezone_name is not None:
        user.timezone = timezone_name
    try:
        user.full_clean()
    except ValidationError as exc:
        raise InvalidInput("The profile is invalid.", details=exc.message_dict) from None
    user.save(update_fields=["email", "timezone"])
    audit_event_record(
        action="user.profile_updated", actor=user, target_type="user", target_id=user.pk, data={"fields": changed}
    )
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


def _password_link(user: User) -> str:
    """The one-time link to choose a password, on the public address (PUBLIC_BASE_URL, path kept),
    never on whatever Host a request carried."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    path = reverse(
        "web:password_reset_confirm", kwargs={"uidb64": uid, "token": default_token_generator.make_token(user)}
    )
    return f"{settings.PUBLIC_BASE_URL}{path}"


def _password_link_mail(*, user: User, template: str, context: dict[str, object], audit: dict[str, object]) -> None:
    """One of the product's own mails with a password link: `<template>_subject.txt` and `<template>.txt`.

    Rendered now, sent once the caller's transaction commits (the admin's add form runs in one) with
    no database connection held during the SMTP conversation, and audited (`audit`: the event's
    fields) only once the mail server has taken it: a rolled-back change sends nothing, and no event
    claims a mail that failed. A failed send raises to the caller, or to the code that committed.
    """
    context = {
        "user": user,
        "username": user.get_username(),
        "link": _password_link(user),
        "base_url": settings.PUBLIC_BASE_URL,
        "login_url": f"{settings.PUBLIC_BASE_URL}{reverse('web:login')}",
        "valid_days": max(1, round(settings.PASSWORD_RESET_TIMEOUT / 86400)),
        **context,
    }
    subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
    body = render_to_string(f"{template}.txt", context)
    address = user.email

    def send_and_audit() -> None:
        try:
            send_mail(subject, body, None, [address])
        except (smtplib.SMTPException, OSError) as exc:
            # A mail server that is down or refuses is an outage to report (503), never a 500; the
            # log names the account, not the address or the link.
            logger.warning("Password-link mail for user %s not sent: %s", user.pk, type(exc).__name__)
            raise ServiceUnavailable(
                "The mail server is unavailable, so no mail was sent. Try again later.", code="mail_unavailable"
            ) from None
        audit_event_record(**audit)

    after_commit_released(send_and_audit)


def user_password_reset_send(*, user: User, actor: User) -> None:
    """Mail `user` a one-time link to choose a password: nobody types another person's password.

    An account that has never had a password (an operator just added it) gets an invitation in the
    product's words; one that has, a reset mail naming who asked."""
    if not user_manageable_by(actor=actor, user=user):
        raise Forbidden("You may not change this account.", code="account_not_manageable")
    if not user.email:
        raise InvalidInput(
            f"{user.username} has no email address to send a reset link to.",
            details={"email": ["Add an email address first."]},
        )
    invitation = not user.has_usable_password() and user.last_login is None
    template = "web/email/invitation" if invitation else "web/email/password_reset"
    _password_link_mail(
        user=user,
        template=template,
        context={"requested_by": actor.get_username()},
        audit={
            "action": "user.invited" if invitation else "user.password_reset_sent",
            "actor": actor,
            "target_type": "user",
            "target_id": user.pk,
            "data": {"username": user.username},
        },
    )


def user_password_reset_request(*, email: str, client_address: str) -> int:
    """Someone asks for a reset link by email address: each active account with that address and a
    usable password gets a one-time link. The answer never says whether the address is known,
    and requests are limited per address and per email, so the page cannot be used to flood an inbox.
    Returns how many mails the mail server took (for tests; never shown)."""
    email = (email or "").strip()
    throttle_hit(
        rate=settings.PASSWORD_RESET_RATE,
        key=("password-reset", client_address),
        message="Too many reset requests from this address; try again later.",
    )
    throttle_hit(
        rate=settings.PASSWORD_RESET_RATE,
        key=("password-reset-email", *throttle_key(email.lower())),
        message="Too many reset requests for this address; try again later.",
    )
    form = PasswordResetForm(data={"email": email})
    if not form.is_valid():
        raise InvalidInput("Enter a valid email address.", details={"email": list(form.errors.get("email", []))})
    # Django's choice of accounts (active, with a usable password, the address matched without case).
    users = list(form.get_users(email))
    sent = 0
    for user in users:
        try:
            _password_link_mail(
                user=user,
                template="web/email/password_reset",
                context={"requested_by": ""},
                audit={
                    "action": "user.password_reset_sent",
                    "actor": None,
                    "target_type": "user",
                    "target_id": user.pk,
                    "data": {"self": True},
                },
            )
        except ServiceUnavailable:
            # The same answer as for an unknown address (logged above, as Django's own reset form
            # does): an error only for known addresses would tell who has an account.
            continue
        sent += 1
    return sent


def refresh_token_revoke_by_id(*, token: OutstandingToken, actor: User) -> bool:
    """Revoke the session an issued refresh token belongs to, by its row (the admin never holds the token).

    Returns False when it was already revoked or rotated.
    """
    return jwt_session_revoke(jti=token.jti, actor=actor)


@dataclass(frozen=True)
class PasswordChanged:
    """What a password change hands back: a new session for the caller, and the tokens and connected
    apps that survived."""

    tokens: TokenPair
    personal_tokens: list[PersonalAccessToken]
    connected_apps: list[ConnectedApp]


@transaction.atomic
def user_password_change(*, user: User, old_password: str, new_password: str) -> PasswordChanged:
    """Change the caller's own password and end every other JWT session and browser session.

    The credential stamp moves with the password hash, so every access and refresh token issued
    before stops working; the families are revoked too, for the record. Personal access tokens and
    connected apps' OAuth grants survive (see README: they are separate, scoped, individually
    revocable credentials) and are listed back so the user can revoke or disconnect any they do not
    recognise.
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
    connected_apps = connection_list(user=user)
    audit_event_record(
        action="user.password_changed",
        actor=user,
        target_type="user",
        target_id=user.pk,
        data={
            "sessions_ended": ended,
            "access_tokens_active": [token.prefix for token in personal_tokens],
            "oauth_apps_active": [{"id": app.id, "name": app.name} for app in connected_apps],
        },
    )
    return PasswordChanged(
        tokens=jwt_pair_issue(user=user), personal_tokens=personal_tokens, connected_apps=connected_apps
    )


def _pats_revoke_all(*, user: User) -> list[str]:
    live = PersonalAccessToken.objects.filter(user=user, revoked_at__isnull=True)
    prefixes = [token.prefix for token in live]
    live.update(revoked_at=timezone.now())
    principal_cache_clear_on_commit()  # a queryset update sends no signal (see apps.accounts.principal_cache)
    return prefixes


@transaction.atomic
def user_sign_out_everywhere(*, user: User, actor: User | None) -> None:
    """An operator's (or the user's) "sign out everywhere": every session and token of the user ends.

    Moves the credential epoch (every JWT and browser session carries a stamp of it), revokes the
    refresh-token families and the personal access tokens, and disconnects every OAuth app. The
    password stays as it is.
    """
    User.objects.filter(pk=user.pk).update(credential_epoch=F("credential_epoch") + 1)
    principal_cache_clear_on_commit()
    user.refresh_from_db(fields=["credential_epoch"])
    _credentials_revoke_all(user=user, actor=actor, reason="signed_out_everywhere", action="user.signed_out_everywhere")


def _credentials_revoke_all(*, user: User, actor: User | None, reason: str, action: str) -> None:
    """End every JWT session, personal access token and OAuth grant of the user, recorded as one event."""
    ended = jwt_sessions_revoke(user=user, reason=reason)
    revoked = _pats_revoke_all(user=user)
    disconnected = connections_disconnect_all(user=user)
    audit_event_record(
        action=action,
        actor=actor,
        target_type="user",
        target_id=user.pk,
        data={"sessions_ended": ended, "access_tokens_revoked": revoked, "oauth_apps_disconnected": disconnected},
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
    personal access tokens, sessions and OAuth grants outright means a later reactivation brings none
    of them back.
    """
    with transaction.atomic():
        _credentials_revoke_all(user=user, actor=actor, reason="deactivated", action="user.deactivated")


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
