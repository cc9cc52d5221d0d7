from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.core import health
from apps.core.http_errors import api_not_found, json_or_html_error_view, server_error
from apps.quotas import api as quotas_api

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Where the admin's "Email a password reset link" points (Django's views, the admin's templates).
    path(
        "admin/password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("admin/password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("admin/", admin.site.urls),
    path("api/auth/", include("apps.accounts.urls")),
    path("api/audit/", include("apps.audit.urls")),
    path("api/", include("apps.todos.urls")),
    path("api/mcp/", include("apps.mcp_tools.urls")),
    path("api/ai/", include("apps.providers.urls")),
    path("api/", include("apps.chat.urls")),
    path("api/", include("apps.keys.urls")),
    path("api/quotas/", include("apps.quotas.urls")),
    path("api/notifications", quotas_api.NotificationListView.as_view(), name="notifications"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its init script from a URL (no inline script) for the Content-Security-Policy.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html"),
        name="api-docs",
    ),
]
# The OAuth 2.1 authorization server for remote MCP clients (/authorize, /token, /register, metadata).
urlpatterns.append(path("", include("apps.web.oauth.urls")))
# The pages for people (/, /accounts/, /settings/); after the API so no page path can shadow it.
urlpatterns.append(path("", include("apps.web.urls")))
# Keep this last: any other /api/ path answers in the API's error shape, also with DEBUG on.
urlpatterns.append(re_path(r"^api/", api_not_found))

handler400 = json_or_html_error_view(400, "bad_request", "The request is malformed.", defaults.bad_request)
handler403 = json_or_html_error_view(403, "permission_denied", "Permission denied.", defaults.permission_denied)
handler404 = json_or_html_error_view(404, "not_found", "No such resource.", defaults.page_not_found)
handler500 = server_error
