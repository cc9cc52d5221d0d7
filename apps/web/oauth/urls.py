"""The authorization server's URLs at the site root (/authorize, /token, /revoke, /register, RFC 8414
metadata), under the toolkit's namespace, which its metadata view reverses."""

from django.urls import path
from oauth2_provider import views as dot_views

from apps.web.oauth import views

app_name = "oauth2_provider"

urlpatterns = [
    path(
        ".well-known/oauth-authorization-server",
        dot_views.OAuthServerMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
    path("authorize", views.AuthorizeView.as_view(), name="authorize"),
    path("token", views.TokenView.as_view(), name="token"),
    path("revoke", views.RevokeView.as_view(), name="revoke-token"),
    path("register", views.RegisterView.as_view(), name="dcr-register"),
    path("register/<str:client_id>", views.RegistrationManagementView.as_view(), name="dcr-register-management"),
]
