from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import TemplateView

from apps.web.limits import limited_patterns
from apps.web.views import accounts, activity, chat, connections, keys, pages, setup, tokens, usage

app_name = "web"

urlpatterns = [
    path("", pages.home, name="home"),
    path("accounts/login/", accounts.LoginView.as_view(), name="login"),
    path("accounts/logout/", accounts.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/password/", accounts.password_change, name="password_change"),
    # /password-reset/<uid>/<token>/ is the shape the log and audit masking knows (apps.audit.masking).
    path("accounts/password-reset/", accounts.password_reset, name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        TemplateView.as_view(template_name="web/accounts/password_reset_sent.html"),
        name="password_reset_sent",
    ),
    path(
        "accounts/password-reset/<uidb64>/<token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password-reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(template_name="web/accounts/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("settings/", setup.setup, name="setup"),
    path("settings/keys/", keys.key_list, name="keys"),
    path("settings/keys/<int:key_id>/validate/", keys.key_validate, name="key_validate"),
    path("settings/keys/<int:key_id>/default/", keys.key_make_default, name="key_default"),
    path("settings/keys/<int:key_id>/rotate/", keys.key_rotate, name="key_rotate"),
    path("settings/keys/<int:key_id>/expiry/", keys.key_expiry, name="key_expiry"),
    path("settings/keys/<int:key_id>/delete/", keys.key_delete, name="key_delete"),
    path("settings/tokens/", tokens.token_list, name="tokens"),
    path("settings/tokens/<int:token_id>/revoke/", tokens.token_revoke, name="token_revoke"),
    path("settings/connections/", connections.connection_list, name="connections"),
    path(
        "settings/connections/<int:connection_id>/disconnect/",
        connections.connection_disconnect,
        name="connection_disconnect",
    ),
    path("settings/usage/", usage.usage_page, name="usage"),
    path("settings/activity/", activity.activity_page, name="activity"),
    path("settings/activity/export/", activity.activity_export, name="activity_export"),
    path("chat/", chat.chat_page, name="chat"),
    path("chat/<int:conversation_id>/", chat.chat_page, name="chat_conversation"),
]

# Pages are a door: each counts against the caller's rate like a REST request (apps.web.limits).
urlpatterns = limited_patterns(urlpatterns)
