"""Property tests: whatever a client sends, the pipeline answers with a result or a clean error, never a crash."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.accounts.principal import principal_for_user
from apps.core.errors import DomainError, InvalidInput
from apps.core.http_errors import http_status
from apps.mcp_tools.pipeline import tool_invoke
from apps.mcp_tools.pipeline.registry import tools_registered
from apps.todos.dates import due_parse

pytestmark = pytest.mark.django_db

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
TOOL_NAMES = [spec.name for spec in tools_registered()]
FIELD_NAMES = st.sampled_from(["id", "ids", "items", "title", "due", "priority", "status", "query", "limit", "offset"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tool_name=st.sampled_from(TOOL_NAMES),
    arguments=JSON | st.dictionaries(FIELD_NAMES, JSON, max_size=4),
)
def test_any_arguments_get_a_result_or_a_clean_error(alice, django_settings_high_limits, tool_name, arguments):
    outcome = tool_invoke(
        principal=principal_for_user(alice, auth_method="jwt"), tool_name=tool_name, arguments=arguments, transport="t"
    )
    if outcome.success:
        assert isinstance(outcome.result, dict)
    else:
        assert isinstance(outcome.error, DomainError)
        assert http_status(outcome.error) in {400, 404}


@pytest.fixture
def django_settings_high_limits(settings):
    settings.MCP_RATE_LIMIT_DEFAULT = "100000/minute"


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60))
def test_any_text_is_a_date_or_invalid_date(text):
    try:
        value = due_parse(text=text, tz_name="Europe/Berlin", now=dt.datetime(2026, 11, 25, 9, tzinfo=dt.UTC))
    except InvalidInput as exc:
        assert exc.code == "invalid_date"
    else:
        assert value.tzinfo is not None
