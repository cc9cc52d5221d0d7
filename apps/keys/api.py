from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.scopes import PROFILE_READ
from apps.core.errors import ServiceUnavailable
from apps.core.schema import error_responses
from apps.keys import selectors, services
from apps.keys.serializers import (
    MessageResponseSerializer,
    ProviderKeyCreateSerializer,
    ProviderKeyListResponseSerializer,
    ProviderKeyResponseSerializer,
    ProviderKeyRotateSerializer,
    ProviderKeySerializer,
    ProvidersResponseSerializer,
    validation_payload,
)
from apps.providers.registry import provider_specs_list
from apps.providers.validation import INVALID

KEY_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)


@extend_schema_view(
    retrieve=extend_schema(parameters=[KEY_ID]),
    destroy=extend_schema(parameters=[KEY_ID]),
    rotate=extend_schema(parameters=[KEY_ID]),
    validate=extend_schema(parameters=[KEY_ID]),
    make_default=extend_schema(parameters=[KEY_ID]),
)
class ProviderKeyViewSet(viewsets.ViewSet):
    """The caller's provider keys. Another user's key answers 404, exactly like a missing one.

    The secret goes in once (create, rotate) and never comes back out, not even to its owner.
    """

    lookup_value_regex = r"[0-9]+"
    # Personal access tokens may list keys (masked) with profile:read, never store, rotate or delete them:
    # a leaked token must not be able to swap in a key of the attacker's or remove the user's.
    read_scope = PROFILE_READ
    write_scope = None

    def _key(self, request: Request, pk: str):
        return selectors.provider_key_get(owner=request.user, key_id=pk)

    @extend_schema(responses=ProviderKeyListResponseSerializer)
    def list(self, request: Request) -> Response:
        keys = selectors.provider_key_list(owner=request.user)
        return Response({"success": True, "keys": ProviderKeySerializer(keys, many=True).data})

    # 404: user_id names no active user; 409: a duplicate, a taken label, too many keys; 422: the provider said no.
    @extend_schema(
        request=ProviderKeyCreateSerializer,
        responses={201: ProviderKeyResponseSerializer, **error_responses(404, 409, 422)},
    )
    def create(self, request: Request) -> Response:
        serializer = ProviderKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        owner = services.provider_key_owner_resolve(actor=request.user, user_id=data.get("user_id"))
        key, outcome = services.provider_key_create(
            actor=request.user,
            owner=owner,
            provider=data["provider"],
            api_key=data["api_key"],
            label=data.get("label", ""),
            base_url=data.get("base_url", ""),
            expires_at=data.get("expires_at"),
            is_default=data.get("is_default"),
            validate=data.get("validate", False),
        )
        body = {
            "success": True,
            "message": "Key stored. It is encrypted and will not be shown again.",
            "key": ProviderKeySerializer(key).data,
        }
        if outcome is not None:
            body["validation"] = validation_payload(outcome)
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses=ProviderKeyResponseSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response({"success": True, "key": ProviderKeySerializer(self._key(request, pk)).data})

    @extend_schema(responses={200: MessageResponseSerializer})
    def destroy(self, request: Request, pk: str) -> Response:
        services.provider_key_delete(actor=request.user, key=self._key(request, pk))
        return Response({"success": True, "message": "Key deleted."})

    @extend_schema(
        request=ProviderKeyRotateSerializer,
        responses={200: ProviderKeyResponseSerializer, **error_responses(409, 422)},
    )
    @action(detail=True, methods=["post"])
    def rotate(self, request: Request, pk: str) -> Response:
        key = self._key(request, pk)
        serializer = ProviderKeyRotateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        extra = {"expires_at": data["expires_at"]} if "expires_at" in data else {}
        new, outcome = services.provider_key_rotate(
            actor=request.user, key=key, api_key=data["api_key"], validate=data.get("validate", False), **extra
        )
        body = {
            "success": True,
            "message": "Key rotated. The previous secret was erased.",
            "key": ProviderKeySerializer(new).data,
            "replaces": key.pk,
        }
        if outcome is not None:
            body["validation"] = validation_payload(outcome)
        return Response(body)

    @extend_schema(request=None, responses={200: ProviderKeyResponseSerializer, **error_responses(409, 422)})
    @action(detail=True, methods=["post"])
    def validate(self, request: Request, pk: str) -> Response:
        key, outcome = services.provider_key_validate(actor=request.user, key=self._key(request, pk))
        payload = validation_payload(outcome)
        if outcome.result == INVALID:
            raise services.key_rejected_error(outcome)
        if not outcome.is_valid:
            raise ServiceUnavailable(
                outcome.detail,
                details={"validation": payload},
                code="provider_unreachable",
                retry_after=outcome.retry_after,
            )
        return Response(
            {"success": True, "message": outcome.detail, "key": ProviderKeySerializer(key).data, "validation": payload}
        )

    @extend_schema(request=None, responses={200: ProviderKeyResponseSerializer, **error_responses(409)})
    @action(detail=True, methods=["post"], url_path="default")
    def make_default(self, request: Request, pk: str) -> Response:
        key = services.provider_key_set_default(actor=request.user, key=self._key(request, pk))
        return Response(
            {"success": True, "message": "This key is now the default.", "key": ProviderKeySerializer(key).data}
        )

    @extend_schema(responses=ProvidersResponseSerializer)
    @action(detail=False, methods=["get"])
    def providers(self, request: Request) -> Response:
        return Response({"success": True, "providers": [spec.as_dict() for spec in provider_specs_list()]})
