from django.contrib.auth.models import update_last_login
from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.serializers import TokenObtainSerializer as TokenObtainBaseSerializer

from apps.accounts.models import PersonalAccessToken, User
from apps.accounts.roles import ROLES
from apps.accounts.scopes import SCOPES
from apps.core.schema import enum_list_field
from apps.core.serializers import StrictSerializerMixin

SCOPE_NAMES = sorted(SCOPES)


class TokenObtainSerializer(StrictSerializerMixin, TokenObtainPairSerializer):
    def validate(self, attrs):
        # simplejwt's base class authenticates (through axes); the tokens come from our service, which
        # gives them a session family and the user's credential stamp.
        from apps.accounts.tokens import jwt_pair_issue

        TokenObtainBaseSerializer.validate(self, attrs)
        from apps.accounts.signins import sign_in_record

        pair = jwt_pair_issue(user=self.user)
        update_last_login(None, self.user)
        sign_in_record(user=self.user, username=self.user.username, method="jwt")
        return pair.as_dict()


class TokenRefreshInputSerializer(StrictSerializerMixin, serializers.Serializer):
    refresh = serializers.CharField(max_length=2048)
    access = serializers.CharField(read_only=True)


class PasswordChangeSerializer(StrictSerializerMixin, serializers.Serializer):
    old_password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)


class TokenPairSerializer(serializers.Serializer):
    """Documents what login and refresh answer."""

    access = serializers.CharField(help_text="Access JWT for `Authorization: Bearer ...`.")
    refresh = serializers.CharField(help_text="Refresh JWT; single use, each refresh answers a new one.")


class LogoutSerializer(StrictSerializerMixin, serializers.Serializer):
    refresh = serializers.CharField(max_length=2048)


class RegisterSerializer(StrictSerializerMixin, serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    timezone = serializers.CharField(max_length=64, required=False, default="UTC")


class MeSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    roles = enum_list_field(list(ROLES), child=serializers.CharField(), read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "email", "timezone", "roles", "is_staff", "date_joined"]
        read_only_fields = ["id", "username", "roles", "is_staff", "date_joined"]


class AccessTokenSerializer(serializers.ModelSerializer):
    """A token as listed: never the digest, never the secret."""

    prefix = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    scopes = enum_list_field(SCOPE_NAMES, child=serializers.CharField(), read_only=True)

    class Meta:
        model = PersonalAccessToken
        fields = ["id", "name", "prefix", "scopes", "status", "expires_at", "last_used_at", "revoked_at", "created_at"]
        read_only_fields = fields


class AccessTokenCreatedSerializer(AccessTokenSerializer):
    """The one response that carries the plaintext token."""

    token = serializers.CharField(read_only=True)

    class Meta(AccessTokenSerializer.Meta):
        fields = [*AccessTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class AccessTokenCreateSerializer(StrictSerializerMixin, serializers.Serializer):
    name = serializers.CharField(max_length=100)
    # Documented as an enum so generated clients know the names; pat_create refuses unknown ones by name.
    scopes = enum_list_field(SCOPE_NAMES, child=serializers.CharField(max_length=50), min_length=1, max_length=20)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    expires_in_days = serializers.IntegerField(required=False, min_value=1, max_value=3650)

    def validate(self, attrs):
        if attrs.get("expires_at") and attrs.get("expires_in_days"):
            raise serializers.ValidationError({"expires_in_days": ["Give expires_at or expires_in_days, not both."]})
        return attrs


class ConnectedAppSerializer(serializers.Serializer):
    """An OAuth client the user allowed, as /settings/connections/ lists it (never a token)."""

    id = serializers.IntegerField(help_text="The connection; /settings/connections/ disconnects it.")
    name = serializers.CharField()
    host = serializers.CharField(help_text="Where the client comes from, or how it was registered.")
    scopes = enum_list_field(SCOPE_NAMES, child=serializers.CharField())
    connected_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class PasswordChangedSerializer(serializers.Serializer):
    """A new session for the caller, and the personal access tokens and connected apps that survived."""

    access = serializers.CharField()
    refresh = serializers.CharField()
    access_tokens = AccessTokenSerializer(many=True)
    connected_apps = ConnectedAppSerializer(many=True)
