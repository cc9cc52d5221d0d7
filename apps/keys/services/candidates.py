"""The user's usable keys as candidates for one provider call, decrypted one at a time, in order.

This is the vault's side of the fallback chain (apps.providers.fallback): keys in the user's
provider order, the default key of a provider first, then its other keys. Each key is decrypted by
the one decrypt function only when the chain reaches it, lives in the Candidate for that call, and
is dropped before the next one is decrypted. A key the provider refuses (401/403) is marked
invalid here, audited, and its owner told how to renew it; it is skipped until rotated or
validated again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from apps.accounts.models import User
from apps.core.database import after_commit_released
from apps.core.errors import ServiceUnavailable
from apps.keys.models import ProviderKey
from apps.keys.selectors import SECRET_COLUMNS
from apps.keys.services.common import ProviderKeyUnusable, _audit
from apps.keys.services.lifecycle import provider_key_plaintext_for_call
from apps.providers.answer_cache import answer_invalidate_user
from apps.providers.calls import Candidate, Route
from apps.providers.registry import provider_spec_get

logger = logging.getLogger(__name__)


def provider_keys_usable(*, owner: User, order: Sequence[str]) -> list[ProviderKey]:
    """The owner's keys a call may use, in call order; secrets not loaded."""
    rows = (
        ProviderKey.objects.filter(owner=owner, provider__in=list(order), status=ProviderKey.Status.ACTIVE)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .exclude(last_validation_result=ProviderKey.Validation.INVALID)
        .select_related("owner")
        .defer(*SECRET_COLUMNS)
    )
    rank = {provider: index for index, provider in enumerate(order)}
    return sorted(rows, key=lambda k: (rank[k.provider], not k.is_default, -k.created_at.timestamp(), -k.pk))


def provider_candidates(*, owner: User, order: Sequence[str], models: Mapping[str, str]) -> Iterator[Candidate]:
    """Yield one decrypted Candidate per usable key, in order; a key that cannot be opened is skipped."""
    for key in provider_keys_usable(owner=owner, order=order):
        model = models.get(key.provider, "")
        if not model:
            continue
        try:
            plaintext = provider_key_plaintext_for_call(key=key)
        except (ProviderKeyUnusable, ServiceUnavailable):
            continue  # revoked or expired since listed, or a vault problem (already logged and audited)
        base_url = provider_spec_get(key.provider).route_base_url(key.base_url)
        candidate = Candidate(
            route=Route(provider=key.provider, base_url=base_url, model=model),
            key_id=key.pk,
            key_label=key.label,
            api_key=plaintext,
        )
        del plaintext
        yield candidate
        del candidate


def provider_key_refused(*, key_id: int, status_code: int | None) -> str:
    """The provider refused a stored key during a call: mark it invalid, audit, tell the owner. Returns the notice."""
    key = ProviderKey.objects.filter(pk=key_id).select_related("owner").defer(*SECRET_COLUMNS).first()
    if key is None:
        return ""
    spec = provider_spec_get(key.provider)
    renew = (
        f"Create a new key at {spec.keys_url} and rotate '{key.label}' with it."
        if spec.keys_url
        else (f"Create a new key with your provider and rotate '{key.label}' with it.")
    )
    notice = f"{spec.display_name} refused your key '{key.label}' ({key.mask}, HTTP {status_code}). {renew}"
    ProviderKey.objects.filter(pk=key.pk).update(
        last_validation_result=ProviderKey.Validation.INVALID,
        last_validation_detail=f"{spec.display_name} refused this key during a call (HTTP {status_code})."[:200],
        last_validated_at=timezone.now(),
        updated_at=timezone.now(),
    )
    _audit("provider_key.refused", actor=None, key=key, outcome="failure", status_code=status_code)
    answer_invalidate_user(user_id=key.owner_id)
    if key.owner.email:
        subject = f"Your {spec.display_name} key '{key.label}' was refused"
        body = f"{notice}\n\nThe gateway will not use this key again until you rotate or re-validate it."
        address, key_id = key.owner.email, key.pk

        def mail() -> None:
            try:
                send_mail(subject=subject, message=body, from_email=None, recipient_list=[address])
            except Exception:  # the notice is also in the call's result; a mail outage must not fail the call
                logger.warning("Could not mail the refused-key notice for key %s", key_id)

        # Mid-call: the mail server's wait holds no connection, and nothing goes out for a rolled-back mark.
        after_commit_released(mail)
    return notice


@receiver(post_save, sender=ProviderKey, dispatch_uid="keys.key_saved_answers")
@receiver(post_delete, sender=ProviderKey, dispatch_uid="keys.key_deleted_answers")
def _key_changed(sender: Any, instance: ProviderKey, **kwargs: Any) -> None:
    """A stored, rotated, revoked or deleted key: the owner's cached AI answers go (every process)."""
    owner_id = instance.owner_id
    answer_invalidate_user(user_id=owner_id)
    # Again after commit: a call in another transaction may have cached an answer meanwhile.
    transaction.on_commit(lambda: answer_invalidate_user(user_id=owner_id))
