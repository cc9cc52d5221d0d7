"""Settings, part 4: the audit trail (keyed chain, sealer, checkpoints, retention); see docs/audit.md."""

from __future__ import annotations

from pathlib import Path

from apps.audit.keyring import audit_key_entry, audit_keyring
from config.env import env_int, env_secret, env_str
from config.settings.base import DEVELOPMENT, VAR_DIR

# AUDIT_CHAIN_KEYS="v2:<secret>,v1:<secret>": HMAC keys for the event chain and its checkpoints; the
# first seals, the others still verify. Never stored in the database (see apps.audit.keyring).
AUDIT_CHAIN_KEYS = env_secret(
    "AUDIT_CHAIN_KEYS",
    development=DEVELOPMENT,
    dev_file=VAR_DIR / "audit-chain-keys",
    generate=audit_key_entry,
    hint="; create one with `manage.py generate_secrets`",
)
AUDIT_CHAIN_KEYRING = audit_keyring("AUDIT_CHAIN_KEYS", AUDIT_CHAIN_KEYS)
# The sealer links committed events every AUDIT_SEAL_INTERVAL_SECONDS (beat), in batches.
AUDIT_SEAL_INTERVAL_SECONDS = env_int("AUDIT_SEAL_INTERVAL_SECONDS", 1, minimum=1, maximum=3600)
AUDIT_SEAL_BATCH = env_int("AUDIT_SEAL_BATCH", 2000, minimum=10)
# Signed head checkpoints outside the database, appended to this file and logged: by the sealer's job
# at least every AUDIT_CHECKPOINT_SECONDS while events arrive (so only the newest ~11 s of events can
# be deleted unseen), and with a copy in the table every AUDIT_CHECKPOINT_INTERVAL_MINUTES.
AUDIT_CHECKPOINT_FILE = Path(env_str("AUDIT_CHECKPOINT_FILE", str(VAR_DIR / "audit-checkpoints.jsonl")))
AUDIT_CHECKPOINT_SECONDS = env_int("AUDIT_CHECKPOINT_SECONDS", 10, minimum=1, maximum=3600)
AUDIT_CHECKPOINT_INTERVAL_MINUTES = env_int("AUDIT_CHECKPOINT_INTERVAL_MINUTES", 5, minimum=1)
# Where audit_verify reads the shipped log's checkpoint lines ("audit checkpoint {...}"), if anywhere.
AUDIT_CHECKPOINT_LOG = env_str("AUDIT_CHECKPOINT_LOG", "")
# Days each category is kept at least (AUDIT_RETENTION_DAYS_<CATEGORY>); the retention job deletes in batches.
AUDIT_RETENTION_DAYS = {
    category: env_int(f"AUDIT_RETENTION_DAYS_{category.upper()}", days, minimum=1)
    for category, days in {
        "auth": 365,
        "key": 730,
        "token": 365,
        "todo": 365,
        "tool": 90,
        "provider": 90,
        "quota": 90,
        "admin": 730,
        "system": 365,
    }.items()
}
AUDIT_RETENTION_BATCH = env_int("AUDIT_RETENTION_BATCH", 5000, minimum=100)
