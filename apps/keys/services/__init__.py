"""The key vault's services: the only code that stores, rotates, revokes or decrypts provider keys.

Rules every door (REST, admin, MCP, Celery, CLI) gets from here:
- the plaintext is accepted once, checked, encrypted and dropped; it is never returned, logged,
  audited or cached. Audit events carry the mask and a fingerprint prefix only;
- acting on another user's keys needs the operator role, and is audited with both people;
- provider_key_plaintext_for_call is the one function that decrypts a secret.

Split by job: lifecycle.py (store, rotate, revoke, delete, default, validate, the one decryption),
expiry.py (the periodic expiry job), rewrap.py (master-key and pepper rotation), and common.py
(the steps they share).
"""

from apps.keys.services.candidates import provider_candidates, provider_key_refused, provider_keys_usable
from apps.keys.services.common import API_KEY_MAX_LENGTH, LABEL_MAX_LENGTH, ProviderKeyUnusable, key_rejected_error
from apps.keys.services.expiry import provider_keys_expire_and_warn
from apps.keys.services.lifecycle import (
    provider_key_create,
    provider_key_delete,
    provider_key_owner_resolve,
    provider_key_plaintext_for_call,
    provider_key_revoke,
    provider_key_rotate,
    provider_key_set_default,
    provider_key_set_expiry,
    provider_key_validate,
)
from apps.keys.services.rewrap import provider_keys_rewrap

__all__ = [
    "API_KEY_MAX_LENGTH",
    "LABEL_MAX_LENGTH",
    "ProviderKeyUnusable",
    "key_rejected_error",
    "provider_candidates",
    "provider_key_create",
    "provider_key_delete",
    "provider_key_owner_resolve",
    "provider_key_plaintext_for_call",
    "provider_key_refused",
    "provider_key_revoke",
    "provider_key_rotate",
    "provider_key_set_default",
    "provider_key_set_expiry",
    "provider_key_validate",
    "provider_keys_expire_and_warn",
    "provider_keys_rewrap",
    "provider_keys_usable",
]
