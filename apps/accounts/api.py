import datetime as dt

from axes.exceptions import AxesBackendPermissionDenied
from django.contrib.auth import update_session_auth_hash
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView

from apps.accounts import pats, selectors, services, tokens
from apps.accounts.lockout import lockout_error
from apps.accounts.scopes import PROFILE_READ
from apps.accounts.serializers import (
    AccessTokenCreatedSerializer,
    AccessTokenCreateSerializer,
    AccessTokenSerializer,
    ConnectedAppSerializer,
    LogoutSerializer,
    MeSerializer,
    PasswordChangedSerializer,
    PasswordChangeSerializer,
    RegisterSerializer,
    TokenObtainSerializer,
    TokenPairSerializer,
    TokenRefreshInputSerializer,
)
from apps.core.client_address import client_address
from apps.core.schema import error_responses


class TokenObtainView(TokenObtainPairView):
    """Username + password -> access and refresh tokens. Locked by django-axes after failures."""

    serializer_class = TokenObtainSerializer

    @extend_schema(responses={200: TokenPairSerializer, **error_responses(401)})
    def post(self, request: Request, *args, **kwargs) -> Response:
        try:
            return super().post(request, *args, **kwargs)
        except AxesBackendPermissionDenied:
            raise lockout_error() from None
        except AuthenticationFailed:
            # The failure that crosses the limit is already a lockout: say so now, not on the next try.
            if getattr(request, "axes_locked_out", False):
                raise lockout_error() from None
            raise


class TokenRefreshRotateView(APIView):
    """A refresh token buys a new pair once. Reusing a rotated one revokes its whole session family."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=TokenRefreshInputSerializer, responses={200: TokenPairSerializer, **error_responses(401)})
    def post(self, request: Request) -> Response:
        serializer = TokenRefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = tokens.refresh_token_rotate(raw_refresh=serializer.validated_data["refresh"])
        return Response(pair.as_dict(), headers={"Cache-Control": "no-store"})


class LogoutView(APIView):
    # The access token may already have expired when a client logs out; the refresh token
    # itself is the credential being given up.
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=LogoutSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tokens.refresh_token_revoke(raw_refresh=serializer.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    # 403: sign-up is closed; 409: the username is taken.
    @extend_schema(request=RegisterSerializer, responses={201: MeSerializer, **error_responses(403, 409)})
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = services.user_register(
            username=data["username"],
            email=data["email"],
            password=data["password"],
            timezone_name=data["timezone"],
            client_address=client_address(request),
        )
        return Response(MeSerializer(user).data, status=status.HTTP_201_CREATED)


class PasswordChangeView(APIView):
    """Change your own password (JWT or browser session; never a personal access token).

    Every other session and JWT ends; the caller gets a fresh pair, and the lists of personal access
    tokens and connected OAuth apps that are still active, to revoke or disconnect any that should not be.
    """

    read_scope = None
    write_scope = None

    @extend_schema(request=PasswordChangeSerializer, responses={200: PasswordChangedSerializer})
    def post(self, request: Request) -> Response:
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changed = services.user_password_change(
            user=request.user,
            old_password=serializer.validated_data["old_password"],
            new_password=serializer.validated_data["new_password"],
        )
        if request.auth is None:
            # A browser session: keep this one signed in, as Django's own password change view does.
            update_session_auth_hash(request, request.user)
        body = {
            **changed.tokens.as_dict(),
            "access_tokens": AccessTokenSerializer(changed.personal_tokens, many=True).data,
            "connected_apps": ConnectedAppSerializer(changed.connected_apps, many=True).data,
        }
        return Response(body, headers={"Cache-Control": "no-store"})


class MeView(APIView):
    # A personal access token may read the profile with profile:read, never change it.
    read_scope = PROFILE_READ
    write_scope = None

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)

    @extend_schema(request=MeSerializer, responses=MeSerializer)
    def patch(self, request: Request) -> Response:
        serializer = MeSerializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_update_profile(
            user=request.user,
            email=serializer.validated_data.get("email"),
            timezone_name=serializer.validated_data.get("timezone"),
        )
        return Response(MeSerializer(user).data)


class AccessTokenListView(APIView):
    """The caller's personal access tokens. Managed with a login (JWT or session), never with a PAT."""

    read_scope = None
    write_scope = None

    @extend_schema(responses=AccessTokenSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(AccessTokenSerializer(selectors.pat_list(user=request.user), many=True).data)

    # 409: the user already holds PAT_MAX_PER_USER tokens.
    @extend_schema(
        request=AccessTokenCreateSerializer, responses={201: AccessTokenCreatedSerializer, **error_responses(409)}
    )
    def post(self, request: Request) -> Response:
        serializer = AccessTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        expires_at = data.get("expires_at")
        if data.get("expires_in_days"):
            expires_at = timezone.now() + dt.timedelta(days=data["expires_in_days"])
        token, plaintext = pats.pat_create(
            user=request.user, name=data["name"], scopes=data["scopes"], expires_at=expires_at
        )
        body = AccessTokenCreatedSerializer(token).data
        body["token"] = plaintext
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class AccessTokenDetailView(APIView):
    read_scope = None
    write_scope = None

    @extend_schema(responses=AccessTokenSerializer)
    def get(self, request: Request, token_id: int) -> Response:
        return Response(AccessTokenSerializer(selectors.pat_get(user=request.user, token_id=token_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, token_id: int) -> Response:
        pats.pat_revoke(token=selectors.pat_get(user=request.user, token_id=token_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
