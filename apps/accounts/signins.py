"""Sign-ins, successful or not, as audit events, whichever door: the JWT endpoint and the admin's
login page both authenticate through Django's `authenticate`, which announces every failure
(`user_login_failed`, also for a django-axes lockout); a session login announces success
(`user_logged_in`) and the JWT endpoint records its own."""

from __future__ import annotations

from typing import Any

from apps.accounts.models import User
from apps.audit.services import audit_event_record


def sign_in_record(*, user: User | None, username: str, method: str, error_code: str = "") -> None:
    """One sign-in attempt: `user` is the account it was for, when there is one by that name."""
    audit_event_record(
        action="auth.login" if not error_code else "auth.login_failed",
        category="auth",
        actor=user,
        outcome="success" if not error_code else "failure",
        error_code=error_code,
        target_type="user",
        target_id=user.pk if user is not None else "",
        data={"username": username[:150], "method": method},
    )


def on_user_logged_in(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    sign_in_record(user=user, username=user.username, method="session")


def on_user_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    username = str(credentials.get("username") or "")
    user = User.objects.filter(username__iexact=username).first() if username else None
    locked = bool(getattr(request, "axes_locked_out", False))
    path = getattr(request, "path", "") or ""
    sign_in_record(
        user=user,
        username=username,
        method="jwt" if path.startswith("/api/") else "session",
        error_code="locked_out" if locked else "invalid_credentials",
    )
