from django.urls import path

from apps.accounts import api

urlpatterns = [
    path("token", api.TokenObtainView.as_view(), name="auth-token"),
    path("token/refresh", api.TokenRefreshRotateView.as_view(), name="auth-token-refresh"),
    path("logout", api.LogoutView.as_view(), name="auth-logout"),
    path("register", api.RegisterView.as_view(), name="auth-register"),
    path("me", api.MeView.as_view(), name="auth-me"),
    path("password", api.PasswordChangeView.as_view(), name="auth-password"),
    path("tokens", api.AccessTokenListView.as_view(), name="auth-tokens"),
    path("tokens/<int:token_id>", api.AccessTokenDetailView.as_view(), name="auth-token-detail"),
]
