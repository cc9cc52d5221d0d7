from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer

from apps.accounts.models import User
from apps.core.serializers import StrictSerializerMixin


class TokenObtainSerializer(StrictSerializerMixin, TokenObtainPairSerializer):
    pass


class TokenRefreshInputSerializer(StrictSerializerMixin, TokenRefreshSerializer):
    pass


class LogoutSerializer(StrictSerializerMixin, serializers.Serializer):
    refresh = serializers.CharField(max_length=2048)


class RegisterSerializer(StrictSerializerMixin, serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    timezone = serializers.CharField(max_length=64, required=False, default="UTC")


class MeSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    roles = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "email", "timezone", "roles", "is_staff", "date_joined"]
        read_only_fields = ["id", "username", "roles", "is_staff", "date_joined"]
