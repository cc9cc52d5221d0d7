from typing import Any

from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save


def _ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    from apps.core.schedules import periodic_task_ensure

    periodic_task_ensure(
        name="Flush expired refresh tokens",
        task="accounts.flush_expired_tokens",
        crontab={"minute": "17", "hour": "3"},
    )
    periodic_task_ensure(
        name="Verify the audit trail and alert operators and auditors",
        task="accounts.audit_verify",
        crontab={"minute": "47", "hour": "3"},
    )
    periodic_task_ensure(
        name="Delete unused OAuth client registrations",
        task="accounts.oauth_unused_clients_delete",
        crontab={"minute": "23"},
    )


def _on_user_saved(sender: type, instance: Any, **kwargs: Any) -> None:
    if getattr(instance, "_was_deactivated", False):
        from apps.accounts.services import user_credentials_revoke_on_deactivation

        instance._was_deactivated = False
        user_credentials_revoke_on_deactivation(
            user=instance, actor=getattr(instance, "_credential_change_actor", None)
        )


class AccountsConfig(AppConfig):
    """Users, roles and the ways they prove who they are."""

    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from apps.accounts import audit_alerts, roles, signins
        from apps.audit.chain import events_set_aside

        post_migrate.connect(roles.on_post_migrate, dispatch_uid="accounts.roles")
        post_save.connect(roles.user_default_role_assign, sender=self.get_model("User"), dispatch_uid="accounts.role")
        post_migrate.connect(_ensure_schedules, sender=self, dispatch_uid="accounts.schedules")
        # A deactivation revokes the user's tokens whichever door saved it (admin form, service, shell).
        user_logged_in.connect(signins.on_user_logged_in, dispatch_uid="accounts.signed_in")
        user_login_failed.connect(signins.on_user_login_failed, dispatch_uid="accounts.sign_in_failed")
        post_save.connect(_on_user_saved, sender=self.get_model("User"), dispatch_uid="accounts.deactivation")
        events_set_aside.connect(audit_alerts.on_events_set_aside, dispatch_uid="accounts.audit_forged_alert")
        self._principal_cache_invalidation()

    def _principal_cache_invalidation(self) -> None:
        """Any saved user, token, session family or role membership empties this process's cache of
        verified tokens (other processes follow within PRINCIPAL_CACHE_SECONDS)."""
        from apps.accounts.principal_cache import principal_cache_clear

        user = self.get_model("User")
        for model in (user, self.get_model("PersonalAccessToken"), self.get_model("RefreshTokenFamily")):
            for signal in (post_save, post_delete):
                signal.connect(principal_cache_clear, sender=model, dispatch_uid=f"accounts.principal_cache.{model}")
        m2m_changed.connect(principal_cache_clear, sender=user.groups.through, dispatch_uid="accounts.principal_cache")
        # An OAuth access token revoked any way (revocation endpoint, refresh reuse, code reuse, Disconnect,
        # the admin) is deleted by the toolkit.
        from oauth2_provider.models import get_access_token_model

        post_delete.connect(
            principal_cache_clear, sender=get_access_token_model(), dispatch_uid="accounts.principal_cache.oauth"
        )
