import dataclasses
import socket
import time

import pytest
from django.db import connection

from apps.core.errors import InvalidInput
from apps.providers import egress, validation
from apps.providers.adapters import completion_call
from apps.providers.calls import EGRESS_REFUSED, Candidate, CompletionRequest, Message, ProviderFailure, Route
from apps.providers.registry import key_mask, provider_spec_get, provider_specs_list
from apps.providers.tests.fake_provider import fake_provider_running
from apps.providers.tests.keys import anthropic_key, compatible_key, gemini_key, openai_key
from apps.providers.validation import INVALID, UNREACHABLE, VALID, key_live_validate

MAKERS = {"openai": openai_key, "anthropic": anthropic_key, "gemini": gemini_key}


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_a_key_the_provider_accepts_is_valid(fake_provider, provider):
    api_key = MAKERS[provider]()
    fake_provider.valid_keys.add(api_key)

    outcome = key_live_validate(provider=provider, api_key=api_key)

    assert outcome.result == VALID
    paths = {"openai": "/v1/models", "anthropic": "/v1/models?limit=1", "gemini": "/v1beta/models?pageSize=50"}
    assert outcome.models_seen == {"openai": 2, "anthropic": 1, "gemini": 1}[provider]
    assert fake_provider.requests == [{"path": paths[provider], "provider": provider}]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_a_key_the_provider_rejects_is_invalid_and_its_message_is_not_relayed(fake_provider, provider):
    api_key = MAKERS[provider]()

    outcome = key_live_validate(provider=provider, api_key=api_key)

    # Gemini answers an unknown key with 400 and the reason API_KEY_INVALID; the others with 401.
    status = 400 if provider == "gemini" else 401
    assert outcome.result == INVALID and outcome.status_code == status
    assert f"rejected this key (HTTP {status})" in outcome.detail
    assert api_key not in outcome.detail and api_key[-8:] not in outcome.detail
    assert len(fake_provider.requests) == 1, "SDK retries are off"


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_a_provider_that_does_not_answer_in_time_is_unreachable(fake_provider, provider):
    api_key = MAKERS[provider]()
    fake_provider.stall_keys.add(api_key)
    fake_provider.valid_keys.add(api_key)
    started = time.monotonic()

    outcome = key_live_validate(provider=provider, api_key=api_key)

    assert outcome.result == UNREACHABLE and "did not answer within 2 s" in outcome.detail
    assert time.monotonic() - started < 5
    assert len(fake_provider.requests) == 1


def test_a_closed_port_is_unreachable(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{port}/v1"

    assert key_live_validate(provider="openai", api_key=openai_key()).result == UNREACHABLE


def test_an_openai_compatible_key_is_checked_against_its_own_base_url(fake_provider):
    api_key = compatible_key()
    fake_provider.valid_keys.add(api_key)

    outcome = key_live_validate(provider="openai_compatible", api_key=api_key, base_url=fake_provider.openai_base_url)

    assert outcome.result == VALID


def test_private_addresses_are_refused_at_connect_time_when_not_allowed(fake_provider, settings):
    api_key = compatible_key()
    fake_provider.valid_keys.add(api_key)
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = False

    outcome = key_live_validate(provider="openai_compatible", api_key=api_key, base_url=fake_provider.openai_base_url)

    assert outcome.result == "error" and "private, loopback" in outcome.detail
    assert fake_provider.requests == [], "the key never left the process"


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "openai_compatible"])
def test_a_key_check_goes_through_the_address_guard_like_a_call(fake_provider, settings, provider):
    # Every base URL points at the loopback fake: with private networks not allowed, the guard refuses
    # the key check with the words it refuses a completion with, and the key never leaves the process.
    wire = "openai" if provider == "openai_compatible" else provider
    api_key = compatible_key() if provider == "openai_compatible" else MAKERS[provider]()
    fake_provider.valid_keys.add(api_key)
    base_url = getattr(fake_provider, f"{wire}_base_url")
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = False

    checked = key_live_validate(
        provider=provider, api_key=api_key, base_url=base_url if provider == "openai_compatible" else ""
    )
    with pytest.raises(ProviderFailure) as called:
        completion_call(
            Candidate(route=Route(provider, base_url, "m"), key_id=0, key_label="main", api_key=api_key),
            CompletionRequest(messages=(Message("user", "hello"),)),
        )

    assert called.value.kind == EGRESS_REFUSED and "private, loopback" in called.value.message
    assert checked.result == "error" and checked.detail == called.value.message
    assert fake_provider.requests == []


def test_a_host_name_that_resolves_to_loopback_is_refused_at_connect_time(fake_provider, settings):
    # DNS rebinding: the name passed the store-time check; the connect-time check still refuses it.
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = False
    port = fake_provider.origin.rsplit(":", 1)[1]

    outcome = key_live_validate(
        provider="openai_compatible", api_key=compatible_key(), base_url=f"http://localhost:{port}/v1"
    )

    assert outcome.result == "error" and "private, loopback" in outcome.detail
    assert fake_provider.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/v1",
        "http://localhost/v1",
        "http://10.1.2.3/v1",
        "http://169.254.169.254/latest",
        "http://[::1]/v1",
        "http://[::ffff:127.0.0.1]/v1",
        "http://0.0.0.0/v1",
        "http://100.64.0.1/v1",
        "http://192.168.1.10/v1",
    ],
)
def test_storing_a_base_url_on_a_private_network_is_refused_when_not_allowed(settings, url):
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = False

    with pytest.raises(InvalidInput) as caught:
        egress.base_url_clean(url)
    assert "private, loopback" in str(caught.value.details)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "needs the server's base URL"),
        ("ftp://93.184.215.14/v1", "Use an http(s)"),
        ("https://user:pw@93.184.215.14/v1", "Credentials in the URL"),
        ("https://93.184.215.14/v1?x=1", "query string"),
        ("https://no-such-host.invalid/v1", "does not resolve"),
        ("https://93.184.215.14:99999/v1", "malformed"),
    ],
)
def test_a_malformed_base_url_is_refused(settings, url, problem):
    with pytest.raises(InvalidInput) as caught:
        egress.base_url_clean(url)
    assert problem in str(caught.value.details)


def test_production_requires_https(settings):
    settings.PROVIDER_REQUIRE_HTTPS = True

    with pytest.raises(InvalidInput, match="not allowed") as caught:
        egress.base_url_clean("http://93.184.215.14/v1")
    assert "Only https://" in str(caught.value.details)
    assert egress.base_url_clean("https://93.184.215.14/v1/") == "https://93.184.215.14/v1"


def test_the_host_allowlist_is_enforced(settings):
    settings.OPENAI_COMPATIBLE_ALLOWED_HOSTS = ["93.184.215.14", "*.example.org"]

    assert egress.host_allowed("93.184.215.14") and egress.host_allowed("api.example.org")
    assert not egress.host_allowed("example.org.evil.test")
    with pytest.raises(InvalidInput) as caught:
        egress.base_url_clean("https://93.184.215.15/v1")
    assert "not on the server's list" in str(caught.value.details)


def test_public_addresses_pass_the_address_check(settings):
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = False

    egress.addresses_check(["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
    with pytest.raises(egress.EgressRefused):
        egress.addresses_check(["93.184.215.14", "10.0.0.1"])


@pytest.mark.parametrize(
    "url",
    [
        # 6to4 (2002:V4HI:V4LO::): 127.0.0.1, 169.254.169.254 (cloud metadata) and 10.0.0.1 inside.
        "https://[2002:7f00:1::]/v1",
        "https://[2002:a9fe:a9fe::1]/latest",
        "https://[2002:a00:1:1::1]/v1",
        # Teredo (2001:0:SERVER::~CLIENT): server 8.8.8.8, client 127.0.0.1 (stored inverted).
        "https://[2001:0:808:808::80ff:fffe]/v1",
        # IPv4-mapped and IPv4-compatible forms of 169.254.169.254 and 127.0.0.1.
        "https://[::ffff:a9fe:a9fe]/latest",
        "https://[::ffff:7f00:1]/v1",
        "https://[::a9fe:a9fe]/latest",
        "https://[::7f00:1]/v1",
        # NAT64 around 127.0.0.1.
        "https://[64:ff9b::7f00:1]/v1",
    ],
)
def test_an_ipv6_transition_address_is_judged_by_the_ipv4_address_inside_it(settings, url):
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = False

    with pytest.raises(InvalidInput) as caught:
        egress.base_url_clean(url)
    assert "private, loopback" in str(caught.value.details)
    with pytest.raises(egress.EgressRefused):  # the connect-time check says the same
        egress.addresses_check([url.split("[", 1)[1].split("]", 1)[0]])


def test_a_6to4_address_around_a_public_ipv4_address_stays_usable(settings):
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = False

    assert egress.address_is_public("2002:5db8:d70e::1")  # 93.184.215.14 inside
    assert egress.address_is_public("::ffff:93.184.215.14")
    assert egress.base_url_clean("https://[2002:5db8:d70e::1]/v1") == "https://[2002:5db8:d70e::1]/v1"


def test_every_provider_describes_itself():
    names = [spec.name for spec in provider_specs_list()]

    assert names == ["openai", "anthropic", "gemini", "openai_compatible"]
    for spec in provider_specs_list():
        described = spec.as_dict()
        assert described["features"] and described["docs_url"].startswith("https://")
        assert described["key_format"]["max_length"] > described["key_format"]["min_length"]
    assert provider_spec_get("openai_compatible").as_dict()["requires_base_url"] is True


@pytest.mark.parametrize(
    ("provider", "api_key", "mask"),
    [
        ("openai", "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789WXYZ", "sk-proj-...WXYZ"),
        ("openai", "sk-abcdefghijklmnopqrstuvwxyz0123456789abcdefghWXYZ", "sk-...WXYZ"),
        ("anthropic", "sk-ant-api03-" + "q" * 91 + "AbAA", "sk-ant-...AbAA"),
        ("gemini", "AIza" + "q" * 31 + "WXYZ", "AIza...WXYZ"),
        ("openai_compatible", "gsk_" + "q" * 30 + "1234", "gsk_...1234"),
        ("openai_compatible", "q" * 30 + "1234", "...1234"),
    ],
)
def test_the_mask_is_a_prefix_and_the_last_four_characters(provider, api_key, mask):
    assert key_mask(provider=provider, api_key=api_key) == mask


def test_a_redirect_is_not_followed_so_the_key_goes_nowhere_else(fake_provider):
    with fake_provider_running() as elsewhere:
        api_key = compatible_key()
        elsewhere.valid_keys.add(api_key)
        fake_provider.redirect_to = elsewhere.origin

        outcome = key_live_validate(
            provider="openai_compatible", api_key=api_key, base_url=fake_provider.openai_base_url
        )

        assert outcome.result == "error" and outcome.status_code == 307
        assert fake_provider.requests == [{"path": "/v1/models", "provider": "openai"}]
        assert elsewhere.requests == []


@pytest.mark.django_db(transaction=True)
def test_a_key_check_holds_no_database_connection_while_it_waits(fake_provider, monkeypatch, alice):
    api_key = openai_key()
    fake_provider.valid_keys.add(api_key)
    spec = provider_spec_get("openai")
    held = []

    def models_list(**kwargs):
        held.append(connection.connection is not None)
        return spec.models_list(**kwargs)

    watched = dataclasses.replace(spec, models_list=models_list)
    monkeypatch.setattr(validation, "provider_spec_get", lambda name: watched)
    assert type(alice).objects.filter(pk=alice.pk).exists()  # the request has done database work

    assert key_live_validate(provider="openai", api_key=api_key).result == VALID
    assert held == [False]
