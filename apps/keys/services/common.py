"""What every key service shares: sealing and erasing a row's secret, the audit event, the
owner check, input cleaning, duplicate and label checks, and the two steps create and rotate
both take: inserting a new row with its sealed secret, and explaining an IntegrityError."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import User
from apps.audit.masking import holds_secret
from apps.audit.services import audit_event_record
from apps.core.errors import Conflict, Forbidden, InvalidInput, Unprocessable
from apps.keys import crypto
from apps.keys.models import LABEL_MAX_LENGTH, ProviderKey
from apps.providers import egress
from apps.providers.registry import key_format_problems, key_mask, provider_spec_get, provider_specs_list
from apps.providers.validation import LiveValidationResult

API_KEY_MAX_LENGTH = 1000
# last_used_at is a hint for people, not a counter: writing it at most once a minute keeps a busy
# key from turning every provider call into a row update.
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)
_SECRET_COLUMNS = ("nonce", "ciphertext", "wrapped_data_key", "data_key_nonce", "master_key_version")


class ProviderKeyUnusable(Conflict):
    """The key exists but may not be used now (expired, revoked or superseded)."""

    code = "provider_key_unusable"


# --- helpers ---------------------------------------------------------------------------------------


def _aad(key: ProviderKey) -> bytes:
    return crypto.associated_data(owner_id=key.owner_id, provider=key.provider, key_id=key.pk)


def _sealed(key: ProviderKey) -> crypto.Sealed:
    return crypto.Sealed(
        nonce=bytes(key.nonce),
        ciphertext=bytes(key.ciphertext),
        wrapped_data_key=bytes(key.wrapped_data_key),
        data_key_nonce=bytes(key.data_key_nonce),
        master_key_version=key.master_key_version,
    )


def _store_sealed(key: ProviderKey, sealed: crypto.Sealed) -> None:
    key.nonce = sealed.nonce
    key.ciphertext = sealed.ciphertext
    key.wrapped_data_key = sealed.wrapped_data_key
    key.data_key_nonce = sealed.data_key_nonce
    key.master_key_version = sealed.master_key_version


def _erase_secret(key: ProviderKey) -> None:
    key.nonce = key.ciphertext = key.wrapped_data_key = key.data_key_nonce = b""
    key.master_key_version = ""


def _audit(
    action: str,
    *,
    actor: User | None,
    key: ProviderKey | None = None,
    owner: User | None = None,
    outcome: str = "success",
    **extra: Any,
) -> None:
    owner = owner or (key.owner if key is not None else None)
    data: dict[str, Any] = {}
    if owner is not None:
        data.update(owner_id=owner.pk, owner=owner.username)
        if actor is not None and actor.pk != owner.pk:
            data["acting_for_owner"] = True
    if key is not None:
        data.update(
            provider=key.provider,
            label=key.label,
            mask=key.mask,
            fingerprint_prefix=key.fingerprint[:12],
            status=key.status,
        )
    data.update(extra)
    audit_event_record(
        action=action,
        actor=actor,
        outcome=outcome,
        target_type="provider_key",
        target_id=key.pk if key is not None and key.pk else "",
        data=data,
    )


def _authorise(*, actor: User, owner: User, action: str) -> None:
    if actor.pk == owner.pk:
        return
    if actor.is_operator:
        return
    _audit(action, actor=actor, owner=owner, outcome="denied", reason="not the owner and not an operator")
    raise Forbidden("You can only manage your own keys.", code="not_owner")


def _clean_secret(*, provider: str, api_key: str) -> str:
    if not isinstance(api_key, str):
        raise InvalidInput("The key must be a string.", details={"api_key": ["Must be a string."]})
    # Copying from a console often brings a trailing newline or spaces; inner whitespace is an error.
    api_key = api_key.strip()
    if not api_key:
        raise InvalidInput("The key is empty.", details={"api_key": ["This field may not be blank."]})
    if len(api_key) > API_KEY_MAX_LENGTH:
        raise InvalidInput("The key is too long.", details={"api_key": [f"At most {API_KEY_MAX_LENGTH} characters."]})
    problems = key_format_problems(provider=provider, api_key=api_key)
    if problems:
        spec = provider_spec_get(provider)
        raise InvalidInput(
            f"Not a valid {spec.display_name} key. {problems[0]}",
            details={"api_key": problems},
            code="invalid_key_format",
        )
    return api_key


def _clean_label(*, label: str, api_key: str) -> str:
    label = " ".join((label or "").split())
    if len(label) > LABEL_MAX_LENGTH:
        raise InvalidInput("The label is too long.", details={"label": [f"At most {LABEL_MAX_LENGTH} characters."]})
    # People paste into the wrong box; a label is shown everywhere, so it must not hold a secret.
    if label and (api_key in label or holds_secret(label) or (label in api_key and len(label) >= 8)):
        raise InvalidInput(
            "The label looks like an API key.", details={"label": ["Use a name such as 'Work' or 'Personal'."]}
        )
    return label


def _clean_base_url(*, provider: str, base_url: str, api_key: str) -> str:
    spec = provider_spec_get(provider)
    if spec.user_base_url:
        # The URL is shown wherever the key is; a key pasted into it must not end up on display.
        if api_key in (base_url or "") or holds_secret(base_url or ""):
            raise InvalidInput(
                "The base URL looks like it contains an API key.",
                details={"base_url": ["Give only the server's address, e.g. https://api.example.com/v1."]},
            )
        return egress.base_url_clean(base_url)
    if base_url:
        own_server = " or ".join(s.display_name for s in provider_specs_list() if s.user_base_url)
        raise InvalidInput(
            f"Only {own_server} keys take a base URL.",
            details={"base_url": ["Leave this empty; only keys for your own server take one."]},
        )
    return ""


def _clean_expiry(expires_at: dt.datetime | None) -> dt.datetime | None:
    if expires_at is None:
        return None
    if timezone.is_naive(expires_at):
        raise InvalidInput("The expiry needs a time zone.", details={"expires_at": ["Give a timezone-aware time."]})
    if expires_at <= timezone.now():
        raise InvalidInput("The expiry is in the past.", details={"expires_at": ["Must be in the future."]})
    return expires_at


def _duplicate_of(*, owner: User, fingerprints: dict[str, str]) -> ProviderKey | None:
    """A live key of `owner` with this secret, whichever known pepper its fingerprint was made with."""
    same_secret = Q(fingerprint_pepper_id="", fingerprint__in=list(fingerprints.values()))  # rows from before ids
    for pepper_id, fingerprint in fingerprints.items():
        same_secret |= Q(fingerprint_pepper_id=pepper_id, fingerprint=fingerprint)
    return (
        ProviderKey.objects.filter(same_secret, owner=owner)
        .exclude(status=ProviderKey.Status.SUPERSEDED)
        .only("id", "label", "provider", "mask", "fingerprint", "status", "owner_id")
        .first()
    )


def _refuse_duplicate(*, actor: User, owner: User, existing: ProviderKey) -> Conflict:
    _audit("provider_key.duplicate_refused", actor=actor, key=existing, outcome="failure")
    return Conflict(
        f"This key is already stored as '{existing.label}'.",
        details={"existing_key_id": existing.pk, "label": existing.label},
        code="duplicate_key",
    )


def _default_label(*, owner: User, provider: str) -> str:
    base = provider_spec_get(provider).display_name
    taken = set(
        ProviderKey.objects.filter(owner=owner, provider=provider)
        .exclude(status=ProviderKey.Status.SUPERSEDED)
        .values_list("label", flat=True)
    )
    if base not in taken:
        return base
    number = 2
    while f"{base} {number}" in taken:
        number += 1
    return f"{base} {number}"


def _label_taken(*, owner: User, provider: str, label: str, exclude_id: int | None = None) -> bool:
    queryset = ProviderKey.objects.filter(owner=owner, provider=provider, label=label).exclude(
        status=ProviderKey.Status.SUPERSEDED
    )
    if exclude_id is not None:
        queryset = queryset.exclude(pk=exclude_id)
    return queryset.exists()


def _validated_save(key: ProviderKey, **kwargs: Any) -> None:
    try:
        # owner and created_by come from the authenticated request, not from input: no lookup needed.
        key.full_clean(
            exclude=["owner", "created_by", "replaced_by"], validate_unique=False, validate_constraints=False
        )
    except ValidationError as exc:
        raise InvalidInput("The key's details are invalid.", details=exc.message_dict) from None
    key.save(**kwargs)


def _promote_default(*, owner_id: int, provider: str) -> None:
    """After the default went away, make the newest usable key of that provider the default."""
    if ProviderKey.objects.filter(owner_id=owner_id, provider=provider, is_default=True).exists():
        return
    now = timezone.now()
    successor = (
        ProviderKey.objects.filter(owner_id=owner_id, provider=provider, status=ProviderKey.Status.ACTIVE)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("-created_at", "-id")
        .first()
    )
    if successor is not None:
        ProviderKey.objects.filter(pk=successor.pk).update(is_default=True, updated_at=now)


def _record_validation(key: ProviderKey, outcome: LiveValidationResult) -> None:
    key.last_validated_at = timezone.now()
    key.last_validation_result = outcome.result
    key.last_validation_detail = outcome.detail[:200]


def key_rejected_error(outcome: LiveValidationResult) -> Unprocessable:
    return Unprocessable(
        outcome.detail,
        details={"validation": {"result": outcome.result, "status_code": outcome.status_code}},
        code="key_rejected",
    )


def _key_row(
    *,
    actor: User,
    owner: User,
    provider: str,
    label: str,
    base_url: str,
    api_key: str,
    fingerprints: dict[str, str],
    pepper_id: str,
    is_default: bool,
    expires_at: dt.datetime | None,
    outcome: LiveValidationResult | None,
) -> ProviderKey:
    """A new active row for `api_key` (not saved yet), with the validation outcome if there was one."""
    key = ProviderKey(
        owner=owner,
        provider=provider,
        label=label,
        base_url=base_url,
        mask=key_mask(provider=provider, api_key=api_key),
        fingerprint=fingerprints[pepper_id],
        fingerprint_pepper_id=pepper_id,
        status=ProviderKey.Status.ACTIVE,
        is_default=is_default,
        expires_at=expires_at,
        created_by=actor,
    )
    if outcome is not None:
        _record_validation(key, outcome)
    return key


def _insert_sealed(key: ProviderKey, api_key: str) -> None:
    """Insert `key`, then seal `api_key` under associated data naming the row, then store the secret.

    The associated data names the row, so the row needs its id before the secret is sealed: insert,
    seal, update, all in the caller's transaction, so no row is ever committed without its
    ciphertext. (Allocating ids up front would need a sequence per backend.)
    """
    _validated_save(key)
    _store_sealed(key, crypto.seal(api_key, aad=_aad(key)))
    key.save(update_fields=list(_SECRET_COLUMNS))


def _integrity_conflict(*, actor: User, owner: User, fingerprints: dict[str, str], otherwise: Conflict) -> Conflict:
    """After an IntegrityError: a concurrent request stored the same secret (the duplicate refusal,
    audited), or took the label or default slot (`otherwise`)."""
    existing = _duplicate_of(owner=owner, fingerprints=fingerprints)
    if existing is not None:
        return _refuse_duplicate(actor=actor, owner=owner, existing=existing)
    return otherwise
