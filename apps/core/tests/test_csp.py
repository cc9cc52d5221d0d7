"""apps.core.csp: the same headers as django-csp's own middleware, with the text built once per setting."""

from __future__ import annotations

import pytest
from csp.decorators import csp_update
from csp.exceptions import CSPNonceError
from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from django.http import HttpResponse, JsonResponse
from django.test import RequestFactory, override_settings

from apps.core import csp as csp_module
from apps.core.csp import CSPMiddleware

REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'self'"], "report-uri": "/csp-report/"}}


def _both(view, path: str = "/api/mcp/tools/invoke") -> tuple[HttpResponse, HttpResponse]:
    responses = []
    for middleware_class in (LibraryCSPMiddleware, CSPMiddleware):
        request = RequestFactory().get(path)
        responses.append(middleware_class(view)(request))
    return responses[0], responses[1]


def _headers(response: HttpResponse) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if "Content-Security-Policy" in name}


def test_an_api_response_gets_the_librarys_headers():
    library, ours = _both(lambda request: JsonResponse({"ok": True}))
    assert _headers(ours) == _headers(library)
    assert "default-src 'self'" in ours["Content-Security-Policy"]


@override_settings(CONTENT_SECURITY_POLICY_REPORT_ONLY=REPORT_ONLY)
def test_the_report_only_header_too():
    library, ours = _both(lambda request: HttpResponse("x"))
    assert _headers(ours) == _headers(library)
    assert "report-uri /csp-report/" in ours["Content-Security-Policy-Report-Only"]


def test_a_changed_setting_is_built_again():
    first = _both(lambda request: HttpResponse("x"))[1]["Content-Security-Policy"]
    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": ["'none'"]}}):
        changed = _both(lambda request: HttpResponse("x"))[1]["Content-Security-Policy"]
    assert changed == "default-src 'none'"
    assert _both(lambda request: HttpResponse("x"))[1]["Content-Security-Policy"] == first


def test_a_view_changing_its_policy_or_using_a_nonce_goes_through_the_library():
    @csp_update({"form-action": ["https://client.example"]})
    def updated(request):
        return HttpResponse("x")

    def with_nonce(request):
        return HttpResponse(f"<script nonce='{request.csp_nonce}'></script>")

    library, ours = _both(updated)
    assert _headers(ours) == _headers(library)
    assert "https://client.example" in ours["Content-Security-Policy"]
    # Our policy names no nonce, so the library writes the same text; the nonce path is the library's.
    library, ours = _both(with_nonce)
    assert _headers(ours) == _headers(library)


def test_an_exempt_response_or_a_header_already_set_is_left_alone():
    def exempt(request):
        response = HttpResponse("x")
        response._csp_exempt = True
        return response

    def preset(request):
        response = HttpResponse("x")
        response["Content-Security-Policy"] = "default-src 'none'"
        return response

    assert "Content-Security-Policy" not in _both(exempt)[1]
    assert _both(preset)[1]["Content-Security-Policy"] == "default-src 'none'"


def test_a_nonce_asked_for_after_the_header_is_written_is_an_error():
    request = RequestFactory().get("/")
    CSPMiddleware(lambda request: HttpResponse("x"))(request)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)


def test_the_text_is_kept_per_setting():
    csp_module._built.clear()
    _both(lambda request: HttpResponse("x"))
    assert set(csp_module._built) == {"CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY"}
