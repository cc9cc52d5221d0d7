"""django-csp's middleware, with the policy header built once instead of for every response.

django-csp builds both headers (the policy and the report-only one) from the settings on every
response: about 45 us, a twentieth of what the gateway adds to a REST tool call. A response that
changes nothing of the policy (no nonce asked for, no per-view config, update or replace: every API
response) gets the same text each time, so that text is kept here per setting and dropped when
Django says the setting changed (setting_changed). Any other response goes through django-csp itself, unchanged.
"""

from __future__ import annotations

import http.client
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase

# The response attributes through which a view changes its policy (csp.decorators).
_PER_RESPONSE = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")
_DEBUG_EXEMPT = (http.client.INTERNAL_SERVER_ERROR, http.client.NOT_FOUND)
# (header, setting, the response attribute that exempts it, report-only)
_HEADERS = (
    (HEADER, "CONTENT_SECURITY_POLICY", "_csp_exempt", False),
    (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", "_csp_exempt_ro", True),
)
# setting name -> the header text built from it; emptied when a test or a reload changes the setting.
_built: dict[str, str] = {}


@receiver(setting_changed)
def _setting_changed(*, setting: str, **kwargs: Any) -> None:
    _built.pop(setting, None)


def _policy(setting: str, report_only: bool) -> str:
    """What build_policy() gives for this setting with nothing per response, built once."""
    text = _built.get(setting)
    if text is None:
        text = _built[setting] = build_policy(report_only=report_only)
    return text


class CSPMiddleware(LibraryCSPMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or any(hasattr(response, name) for name in _PER_RESPONSE):
            return super().process_response(request, response)
        # The library's own steps for such a response, with the header text from _policy.
        if response.status_code in _DEBUG_EXEMPT and settings.DEBUG:
            return response
        for header, setting, exempt, report_only in _HEADERS:
            text = _policy(setting, report_only)
            if not text or header in response or getattr(response, exempt, False) is not False:
                continue
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = text
        # As the library does: a nonce asked for after the header was written is an error, not a silent gap.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response
