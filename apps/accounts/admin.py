"""Accounts in the admin: users (two forms, by who is asking), access tokens, refresh tokens.

Superusers get Django's full user form. Operators get a form with only what they may manage on an
ordinary account (active, role, email, time zone) and never a password field: they send a reset
link instead. Staff and superuser accounts, and their own, are read-only to them
(roles.user_manageable_by). No page shows a usable credential: not a refresh token, not a PAT digest.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from apps.accounts.models import PersonalAccessToken, User
from apps.accounts.roles import DEFAULT_ROLE, ROLES, ROLES_OPERATORS_GRANT, user_manageable_by
from apps.accounts.services import (
    pat_revoke,
    refresh_token_revoke_by_id,
    user_password_reset_send,
    user_role_change,
    user_sign_out_everywhere,
)
from apps.core.admin_pages import ReadOnlyAdminMixin
from apps.core.errors import DomainError
from apps.core.timezones import timezone_choices


def _role_field(choices: tuple[str, ...]) -> forms.ChoiceField:
    return forms.ChoiceField(
        label="Role",
        choices=[(role, role) for role in choices],
        initial=DEFAULT_ROLE,
        help_text="What the account may do: user (its own todos and keys), auditor (reads the audit trail)"
        + (", operator (runs the service)." if "operator" in choices else "."),
    )


class _TimezoneSelectMixin:
    """The time zone as a grouped select of the places people pick from, the account's own preselected."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "timezone" in self.fields:
            current = self.instance.timezone if self.instance.pk else "UTC"
            self.fields["timezone"] = forms.ChoiceField(
                label="Time zone", choices=timezone_choices(current), initial=current
            )


class _RoleInitialMixin(_TimezoneSelectMixin):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "role" in self.fields:
            roles = self.instance.roles
            self.fields["role"].initial = roles[0] if roles else None


class OperatorUserChangeForm(_RoleInitialMixin, forms.ModelForm):
    role = _role_field(ROLES_OPERATORS_GRANT)

    class Meta:
        model = User
        fields = ["email", "timezone", "is_active"]


class OperatorUserCreationForm(_TimezoneSelectMixin, forms.ModelForm):
    """No password: the new user gets a link by email to choose one."""

    role = _role_field(ROLES_OPERATORS_GRANT)

    class Meta:
        model = User
        fields = ["username", "email", "timezone"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        self.fields["email"].help_text = "A link to choose a password is sent here."

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("That username is taken.")
        return username

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        user.set_unusable_password()
        if commit:
            user.save()
        return user


class SuperuserUserChangeForm(_RoleInitialMixin, UserChangeForm):
    role = _role_field(ROLES)


class SuperuserUserCreationForm(_TimezoneSelectMixin, AdminUserCreationForm):
    role = _role_field(ROLES)


OPERATOR_FIELDSETS = (
    (None, {"fields": ("username", "email", "timezone")}),
    ("Access", {"fields": ("is_active", "role")}),
    ("Important dates", {"fields": ("last_login", "date_joined")}),
)
OPERATOR_ADD_FIELDSETS = ((None, {"classes": ("wide",), "fields": ("username", "email", "timezone", "role")}),)
SUPERUSER_FIELDSETS = (
    *BaseUserAdmin.fieldsets,
    ("Role and preferences", {"fields": ("role", "timezone")}),
)
SUPERUSER_ADD_FIELDSETS = (
    (
        None,
        {
            "classes": ("wide",),
            "fields": ("username", "usable_password", "password1", "password2", "email", "timezone", "role"),
        },
    ),
)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "role", "is_active", "last_login"]
    list_filter = ["groups", "is_staff", "is_active"]
    actions = ["send_password_reset", "sign_out_everywhere"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="role")
    def role(self, obj: User) -> str:
        return ", ".join(obj.roles) or "(none)"

    def get_fieldsets(self, request: HttpRequest, obj: User | None = None) -> Any:
        if request.user.is_superuser:
            return SUPERUSER_FIELDSETS if obj is not None else SUPERUSER_ADD_FIELDSETS
        return OPERATOR_FIELDSETS if obj is not None else OPERATOR_ADD_FIELDSETS

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> Any:
        if request.user.is_superuser or obj is None:
            return ()
        return ("username", "last_login", "date_joined")

    def get_form(self, request: HttpRequest, obj: User | None = None, **kwargs: Any) -> Any:
        if request.user.is_superuser:
            kwargs["form"] = SuperuserUserChangeForm if obj is not None else SuperuserUserCreationForm
        else:
            kwargs["form"] = OperatorUserChangeForm if obj is not None else OperatorUserCreationForm
        # Skip BaseUserAdmin.get_form, which would put its own add form back.
        return admin.ModelAdmin.get_form(self, request, obj, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        # Without it on a given account the page is "View user", read-only, and a POST is refused.
        allowed = super().has_change_permission(request, obj)
        if not allowed or obj is None:
            return allowed
        return user_manageable_by(actor=request.user, user=obj)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        # Only a superuser types a password for someone else; operators send a reset link.
        if not request.user.is_superuser:
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        user = form.instance
        role = form.cleaned_data.get("role")
        if role:
            # After the groups are saved, so the role wins over a hand-edited group list.
            user_role_change(user=user, role=role, actor=request.user)
        if not change and not user.has_usable_password() and user.email:
            # Once the new account has committed (the add form runs in a transaction), so a mail server
            # outage leaves the account and a message saying so, not an error page, and the message
            # tells what happened rather than what was meant to.
            def invite() -> None:
                try:
                    user_password_reset_send(user=user, actor=request.user)
                except DomainError as exc:
                    self.message_user(
                        request, f"{user.username} was added, but no link was sent: {exc.message}", messages.WARNING
                    )
                else:
                    note = f"A link to choose a password was emailed to {user.email}."
                    self.message_user(request, note, messages.INFO)

            transaction.on_commit(invite)

    @admin.action(description="Email a password reset link", permissions=["change"])
    def send_password_reset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        sent, refused = 0, []
        for user in queryset:
            try:
                user_password_reset_send(user=user, actor=request.user)
                sent += 1
            except DomainError as exc:
                refused.append(f"Not sent to {user.username}: {exc.message}")
        if sent:
            self.message_user(request, f"Sent {sent} password reset link(s).", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description="Sign out everywhere (end every session and token)", permissions=["change"])
    def sign_out_everywhere(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        ended, refused = 0, []
        for user in queryset:
            # The same rule as every other change: operators act on ordinary accounts only.
            if not user_manageable_by(actor=request.user, user=user):
                refused.append(f"Not signed out: you may not change {user.username}.")
                continue
            user_sign_out_everywhere(user=user, actor=request.user)
            ended += 1
        if ended:
            self.message_user(request, f"Signed out {ended} account(s) everywhere.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)


class RevokeActionMixin(ReadOnlyAdminMixin):
    """Read-only pages ("View ...") whose only change is a revoke action."""


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(RevokeActionMixin, admin.ModelAdmin):
    """Operators can see and revoke tokens; the digest is never shown and tokens are created by their owners."""

    list_display = ["name", "user", "prefix", "status", "expires_at", "last_used_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["name", "user__username", "lookup_id"]
    list_select_related = ["user"]
    fields = ["name", "user", "prefix", "scopes", "status", "expires_at", "last_used_at", "revoked_at", "created_at"]
    readonly_fields = fields
    actions = ["revoke_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PersonalAccessToken]:
        return super().get_queryset(request).defer("digest")

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.change_personalaccesstoken")

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[PersonalAccessToken]) -> None:
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            pat_revoke(token=token, actor=request.user)
            count += 1
        self.message_user(request, f"Revoked {count} token(s).", level=messages.SUCCESS)


# simplejwt's own pages show each refresh token in full, and a refresh token redeems to a session
# as its user. These show its id (jti), owner, times and state, and revoke it by id.
admin.site.unregister(OutstandingToken)
admin.site.unregister(BlacklistedToken)


@admin.register(OutstandingToken)
class RefreshTokenAdmin(RevokeActionMixin, admin.ModelAdmin):
    list_display = ["jti", "user", "created_at", "expires_at", "revoked"]
    list_filter = ["created_at", "expires_at"]
    search_fields = ["jti", "user__username"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    fields = ["jti", "user", "created_at", "expires_at", "revoked"]
    readonly_fields = fields
    actions = ["revoke_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[OutstandingToken]:
        # The token column is never even read.
        return (
            super()
            .get_queryset(request)
            .defer("token")
            .annotate(is_revoked=Exists(BlacklistedToken.objects.filter(token=OuterRef("pk"))))
        )

    @admin.display(boolean=True, description="revoked", ordering="is_revoked")
    def revoked(self, obj: OutstandingToken) -> bool:
        return bool(getattr(obj, "is_revoked", False))

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("token_blacklist.add_blacklistedtoken")

    @admin.action(description="Revoke selected refresh tokens", permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[OutstandingToken]) -> None:
        count = sum(refresh_token_revoke_by_id(token=token, actor=request.user) for token in queryset)
        self.message_user(request, f"Revoked {count} refresh token(s).", level=messages.SUCCESS)
