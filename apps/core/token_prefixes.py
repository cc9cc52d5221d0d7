"""The visible prefixes of the gateway's own bearer credentials, declared once.

apps.accounts issues and recognises tokens by them; apps.audit's masking hides any text that starts
with one. Audit sits below accounts (tests/test_architecture.py), so the declaration lives here,
below both, and each reads it.
"""

from __future__ import annotations

PAT_PREFIX = "gw_pat_"  # personal access tokens: gw_pat_<lookup>_<secret>
OAUTH_ACCESS_PREFIX = "gw_oat_"
OAUTH_REFRESH_PREFIX = "gw_ort_"
OWN_TOKEN_PREFIXES = (PAT_PREFIX, OAUTH_ACCESS_PREFIX, OAUTH_REFRESH_PREFIX)
