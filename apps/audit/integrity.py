"""Whether an event is as the application wrote it: one answer for every reader of the trail (the
API's list, the exports, the admin, the user's activity page), so a row someone INSERTed with the
table's rights never reads like a genuine one, whether or not the sealer has run.

- `sealed`: the sealer chained it, and its seal holds: its `hash` is our keyed HMAC over its
  `prev_hash` and its content. (The sealer seals only events whose MAC verifies, so the seal vouches
  for the content on its own, as for events sealed before MACs existed; a MAC changed afterwards is
  the verifier's `edited`.)
- `pending`: not sealed yet, and its MAC verifies with a key of ours;
- `forged`: the sealer set it aside, or its MAC or seal does not verify (an INSERT with a made-up
  MAC or a copied one over other content, a `seq` and `hash` filled in by hand, a sealed row edited).

The answer is about the row alone, from its own columns: one or two HMACs, no query. Whether the
chain around it is whole (nothing deleted, reordered or truncated) is the verifier's
(`manage.py audit_verify`). A verbatim copy of a genuine unsealed row carries a valid MAC and reads
`pending` like the original (docs/audit.md, what it does not stop).
"""

from __future__ import annotations

import hmac
from typing import Any

from apps.audit.chain import event_digest
from apps.audit.event_mac import event_mac_valid

SEALED, PENDING, FORGED = "sealed", "pending", "forged"
INTEGRITY_STATES = (SEALED, PENDING, FORGED)
# What the answer reads beside the content columns.
INTEGRITY_COLUMNS = ("seq", "prev_hash", "hash", "key_version", "forged", "mac", "mac_key_version")


def _seal_holds(event: Any, keys: dict[str, str]) -> bool:
    secret = keys.get(event.key_version or "")
    if secret is None or not event.hash:
        return False
    try:
        digest = event_digest(event, prev_hash=event.prev_hash or "", secret=secret)
    except (TypeError, ValueError):
        return False  # a value no writer of ours produces
    return hmac.compare_digest(digest, event.hash)


def event_integrity(event: Any, keys: dict[str, str]) -> str:
    """`sealed`, `pending` or `forged` for an event (a model instance, or anything with its content
    and INTEGRITY_COLUMNS as attributes); `keys` is the keyring (apps.audit.chain.keyring())."""
    if event.forged:
        return FORGED
    if event.seq is not None:
        return SEALED if _seal_holds(event, keys) else FORGED
    return PENDING if event_mac_valid(event, keys) else FORGED
