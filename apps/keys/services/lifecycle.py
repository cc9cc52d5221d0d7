"""Storing, rotating, revoking, deleting and validating a provider key, and the one decryption."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.principal import acting_for_resolve
from apps.core.errors import Conflict, ServiceUnavailable
from apps.keys import crypto
from apps.keys.models import ProviderKey
from apps.keys.services.common import (
    LAST_USED_RESOLUTION,
    ProviderKeyUnusable,
    _aad,
    _audit,
    _authorise,
    _clean_base_url,
    _clean_expiry,
    _clean_label,
    _clean_secret,
    _default_label,
    _duplicate_of,
    _erase_secret,
    _insert_sealed,
    _integrity_conflict,
    _key_row,
    _label_taken,
    _promote_default,
    _record_validation,
    _refuse_duplicate,
    _sealed,
    key_rejected_error,
)
from apps.keys.services.expiry import _mark_expired
from apps.providers.registry import key_mask, provider_spec_get
from apps.providers.validation import INVALID, LiveValidationResult, key_live_validate

logger = logging.getLogger(__name__)
_UNSET: Any = object()


# --- lifecycle ---------------------------------------------------------------------------------------


def provider_key_owner_resolve(*, actor: User, user_id: int | None) -> User:
    """Whose key a request is about: the actor's, or (operators only) the user named by user_id."""
    return acting_for_resolve(
        actor=actor,
        user_id=user_id,
        refusal="Only operators can store keys for another user.",
        on_refused=lambda: _audit(
            "provider_key.created",
            actor=actor,
            outcome="denied",
            target_user_id=user_id,
            reason="user_id of another user without the operator role",
        ),
    )


def provider_key_create(
    *,
    actor: User,
    owner: User,
    provider: str,
    api_key: str,
    label: str = "",
    base_url: str = "",
    expires_at: dt.datetime | None = None,
    is_default: bool | None = None,
    validate: bool = False,
) -> tuple[ProviderKey, LiveValidationResult | None]:
    """Store a new key for `owner` (the actor, or anyone if the actor is an operator).

    With validate=True the provider is asked first (outside any transaction: it is a network
    call); a key it rejects is not stored (422). An unreachable provider does not block storing;
    the outcome is recorded on the key.
    """
    _authorise(actor=actor, owner=owner, action="provider_key.created")
    provider_spec_get(provider)
    api_key = _clean_secret(provider=provider, api_key=api_key)
    base_url = _clean_base_url(provider=provider, base_url=base_url, api_key=api_key)
    label = _clean_label(label=label, api_key=api_key)
    expires_at = _clean_expiry(expires_at)
    fingerprints = crypto.fingerprints(api_key)
    pepper_id = crypto.current_fingerprint_pepper_id()
    existing = _duplicate_of(owner=owner, fingerprints=fingerprints)
    if existing is not None:
        raise _refuse_duplicate(actor=actor, owner=owner, existing=existing)
    stored = ProviderKey.objects.filter(owner=owner).exclude(status=ProviderKey.Status.SUPERSEDED).count()
    if stored >= settings.PROVIDER_KEYS_PER_USER_MAX:
        raise Conflict(
            f"You can store at most {settings.PROVIDER_KEYS_PER_USER_MAX} keys; delete one first.", code="too_many_keys"
        )

    outcome = key_live_validate(provider=provider, api_key=api_key, base_url=base_url) if validate else None
    if outcome is not None and outcome.result == INVALID:
        _audit(
            "provider_key.validated",
            actor=actor,
            owner=owner,
            outcome="failure",
            provider=provider,
            mask=key_mask(provider=provider, api_key=api_key),
            result=outcome.result,
            stored=False,
        )
        raise key_rejected_error(outcome)

    try:
        with transaction.atomic():
            if label and _label_taken(owner=owner, provider=provider, label=label):
                raise Conflict(
                    f"You already have a {provider_spec_get(provider).display_name} key labelled '{label}'.",
                    details={"label": ["Choose another label."]},
                    code="label_taken",
                )
            label = label or _default_label(owner=owner, provider=provider)
            current_default = (
                ProviderKey.objects.select_for_update().filter(owner=owner, provider=provider, is_default=True).first()
            )
            make_default = current_default is None if is_default is None else is_default
            if make_default and current_default is not None:
                current_default.is_default = False
                current_default.save(update_fields=["is_default", "updated_at"])
            key = _key_row(
                actor=actor,
                owner=owner,
                provider=provider,
                label=label,
                base_url=base_url,
                api_key=api_key,
                fingerprints=fingerprints,
                pepper_id=pepper_id,
                is_default=make_default,
                expires_at=expires_at,
                outcome=outcome,
            )
            _insert_sealed(key, api_key)
            _audit(
                "provider_key.created",
                actor=actor,
                key=key,
                is_default=make_default,
                expires_at=expires_at.isoformat() if expires_at else None,
                validation=outcome.result if outcome else None,
            )
    except IntegrityError:
        # A concurrent request stored the same key (or label) between our check and our insert.
        raise _integrity_conflict(
            actor=actor,
            owner=owner,
            fingerprints=fingerprints,
            otherwise=Conflict("Another key with this label or default flag was stored at the same time."),
        ) from None
    return key, outcome


def provider_key_rotate(
    *,
    actor: User,
    key: ProviderKey,
    api_key: str,
    expires_at: dt.datetime | None = _UNSET,
    validate: bool = False,
) -> tuple[ProviderKey, LiveValidationResult | None]:
    """Replace a key's secret: a new row takes over label, default flag and base URL; the old row
    becomes `superseded` with its secret erased. Safe under concurrent rotations: the old row is
    locked, and a second rotation of the same row finds it superseded (409 naming the successor).

    expires_at: omitted keeps the old expiry if it is still ahead (else none); None clears it.
    """
    owner = key.owner
    _authorise(actor=actor, owner=owner, action="provider_key.rotated")
    api_key = _clean_secret(provider=key.provider, api_key=api_key)
    fingerprints = crypto.fingerprints(api_key)
    pepper_id = crypto.current_fingerprint_pepper_id()
    if expires_at is not _UNSET:
        expires_at = _clean_expiry(expires_at)
    outcome = key_live_validate(provider=key.provider, api_key=api_key, base_url=key.base_url) if validate else None
    if outcome is not None and outcome.result == INVALID:
        _audit("provider_key.validated", actor=actor, key=key, outcome="failure", result=outcome.result, stored=False)
        raise key_rejected_error(outcome)
    try:
        with transaction.atomic():
            old = ProviderKey.objects.select_for_update().get(pk=key.pk)
            if old.status == ProviderKey.Status.SUPERSEDED:
                raise Conflict(
                    "This key was already rotated; rotate its replacement instead.",
                    details={"replaced_by": old.replaced_by_id},
                    code="key_superseded",
                )
            if old.status == ProviderKey.Status.REVOKED:
                raise Conflict(
                    "This key was revoked; delete it and store a new one.", code="key_revoked", details={"id": old.pk}
                )
            existing = _duplicate_of(owner=owner, fingerprints=fingerprints)
            if existing is not None:
                raise _refuse_duplicate(actor=actor, owner=owner, existing=existing)
            if expires_at is _UNSET:
                expires_at = old.expires_at if old.expires_at and old.expires_at > timezone.now() else None
            new = _key_row(
                actor=actor,
                owner=owner,
                provider=old.provider,
                label=old.label,
                base_url=old.base_url,
                api_key=api_key,
                fingerprints=fingerprints,
                pepper_id=pepper_id,
                is_default=old.is_default,
                expires_at=expires_at,
                outcome=outcome,
            )
            # Free the label, fingerprint and default slot before the new row claims them.
            old.status = ProviderKey.Status.SUPERSEDED
            old.is_default = False
            _erase_secret(old)
            old.save()
            _insert_sealed(new, api_key)
            old.replaced_by = new
            old.save(update_fields=["replaced_by", "updated_at"])
            _audit(
                "provider_key.rotated",
                actor=actor,
                key=new,
                replaces=old.pk,
                previous_mask=old.mask,
                previous_fingerprint_prefix=old.fingerprint[:12],
                validation=outcome.result if outcome else None,
            )
    except IntegrityError:
        raise _integrity_conflict(
            actor=actor,
            owner=owner,
            fingerprints=fingerprints,
            otherwise=Conflict("The key changed while it was being rotated; try again.", code="rotation_conflict"),
        ) from None
    return new, outcome


def provider_key_delete(*, actor: User, key: ProviderKey) -> None:
    """Delete a key and the superseded rows it replaced; the history stays in the audit trail."""
    _authorise(actor=actor, owner=key.owner, action="provider_key.deleted")
    with transaction.atomic():
        row = ProviderKey.objects.select_for_update().filter(pk=key.pk).first()
        if row is None:
            return
        lineage = [row.pk]
        frontier = [row.pk]
        while frontier:
            frontier = list(ProviderKey.objects.filter(replaced_by_id__in=frontier).values_list("pk", flat=True))
            lineage.extend(frontier)
        _audit("provider_key.deleted", actor=actor, key=row, superseded_rows_deleted=len(lineage) - 1)
        ProviderKey.objects.filter(pk__in=lineage).delete()
        if row.is_default:
            _promote_default(owner_id=row.owner_id, provider=row.provider)


def provider_key_revoke(*, actor: User, key: ProviderKey, reason: str = "") -> ProviderKey:
    """Stop a key for good (e.g. an operator suspects it leaked): the secret is erased, the row stays."""
    _authorise(actor=actor, owner=key.owner, action="provider_key.revoked")
    with transaction.atomic():
        row = ProviderKey.objects.select_for_update().get(pk=key.pk)
        if row.status in (ProviderKey.Status.REVOKED, ProviderKey.Status.SUPERSEDED):
            return row
        was_default = row.is_default
        row.status = ProviderKey.Status.REVOKED
        row.is_default = False
        row.revoked_at = timezone.now()
        _erase_secret(row)
        row.save()
        _audit("provider_key.revoked", actor=actor, key=row, reason=reason[:200])
        if was_default:
            _promote_default(owner_id=row.owner_id, provider=row.provider)
    return row


def provider_key_set_default(*, actor: User, key: ProviderKey) -> ProviderKey:
    _authorise(actor=actor, owner=key.owner, action="provider_key.default_set")
    with transaction.atomic():
        row = ProviderKey.objects.select_for_update().get(pk=key.pk)
        if row.effective_status != ProviderKey.Status.ACTIVE:
            raise ProviderKeyUnusable(
                f"Only an active key can be the default; this one is {row.effective_status}.",
                code=f"key_{row.effective_status}",
            )
        if not row.is_default:
            ProviderKey.objects.select_for_update().filter(
                owner_id=row.owner_id, provider=row.provider, is_default=True
            ).update(is_default=False, updated_at=timezone.now())
            row.is_default = True
            row.save(update_fields=["is_default", "updated_at"])
            _audit("provider_key.default_set", actor=actor, key=row)
    return row


def provider_key_set_expiry(*, actor: User, key: ProviderKey, expires_at: dt.datetime | None) -> ProviderKey:
    """Set or clear when a key stops being used. A key marked expired comes back to life when its
    new expiry is ahead (or cleared): the owner says the provider still honours it."""
    _authorise(actor=actor, owner=key.owner, action="provider_key.expiry_set")
    expires_at = _clean_expiry(expires_at)
    with transaction.atomic():
        row = ProviderKey.objects.select_for_update().get(pk=key.pk)
        if row.status not in (ProviderKey.Status.ACTIVE, ProviderKey.Status.EXPIRED):
            raise ProviderKeyUnusable(
                f"This key is {row.status}; its expiry can no longer change.", code=f"key_{row.status}"
            )
        row.expires_at = expires_at
        row.expiry_warned_at = None
        row.status = ProviderKey.Status.ACTIVE
        row.save(update_fields=["expires_at", "expiry_warned_at", "status", "updated_at"])
        _audit(
            "provider_key.expiry_set", actor=actor, key=row, expires_at=expires_at.isoformat() if expires_at else None
        )
    return row


def provider_key_validate(*, actor: User, key: ProviderKey) -> tuple[ProviderKey, LiveValidationResult]:
    """Ask the provider whether the stored key still works, and record the answer on the key."""
    _authorise(actor=actor, owner=key.owner, action="provider_key.validated")
    plaintext = provider_key_plaintext_for_call(key=key)
    outcome = key_live_validate(provider=key.provider, api_key=plaintext, base_url=key.base_url)
    del plaintext
    row = ProviderKey.objects.get(pk=key.pk)
    _record_validation(row, outcome)
    row.save(update_fields=["last_validated_at", "last_validation_result", "last_validation_detail", "updated_at"])
    _audit(
        "provider_key.validated",
        actor=actor,
        key=row,
        outcome="success" if outcome.is_valid else "failure",
        result=outcome.result,
        status_code=outcome.status_code,
    )
    return row, outcome


# --- the one decryption ---------------------------------------------------------------------------------


def provider_key_plaintext_for_call(*, key: ProviderKey) -> str:
    """Decrypt a key for the provider call about to be made; the caller drops it right after.

    The row is re-read, so a key revoked, rotated or expired since `key` was loaded is refused
    (ProviderKeyUnusable, 409). Records last_used_at (at most once a minute).
    """
    now = timezone.now()
    row = ProviderKey.objects.filter(pk=key.pk).select_related("owner").first()
    if row is None:
        raise ProviderKeyUnusable("This key no longer exists.", code="key_deleted")
    if row.status == ProviderKey.Status.ACTIVE and row.expires_at is not None and row.expires_at <= now:
        _mark_expired(row)
    if row.status != ProviderKey.Status.ACTIVE:
        message = {
            ProviderKey.Status.EXPIRED: f"The key '{row.label}' expired; rotate it with a new secret.",
            ProviderKey.Status.REVOKED: f"The key '{row.label}' was revoked and cannot be used.",
            ProviderKey.Status.SUPERSEDED: f"The key '{row.label}' was replaced by a newer key.",
        }[ProviderKey.Status(row.status)]
        raise ProviderKeyUnusable(message, code=f"key_{row.status}", details={"id": row.pk, "status": row.status})
    try:
        plaintext = crypto.open_sealed(_sealed(row), aad=_aad(row))
    except crypto.VaultError as exc:
        logger.error(
            "vault: provider key %s (master key %s) could not be decrypted: %s", row.pk, row.master_key_version, exc
        )
        _audit("provider_key.decrypt_failed", actor=None, key=row, outcome="failure", reason=type(exc).__name__)
        raise ServiceUnavailable(
            "The stored key could not be decrypted; an operator has to look at it.", code="vault_error"
        ) from None
    ProviderKey.objects.filter(pk=row.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    key.last_used_at = now
    return plaintext
