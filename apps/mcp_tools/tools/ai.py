"""AI tools: the user's own provider keys put to work, through the one pipeline like every other tool.

Each builds a request from its arguments (and the caller's todos, read before any provider is
called) and hands it to apps.mcp_tools.assistant, which owns the cache, the fallback chain and
offline answers. Results carry provider, model, usage, `cached` and `offline`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.accounts.scopes import AI_INVOKE
from apps.core.errors import InvalidInput
from apps.core.timezones import zone_or_utc
from apps.mcp_tools.assistant import assistant_complete
from apps.mcp_tools.pipeline.registry import tool
from apps.mcp_tools.tools.schemas import obj
from apps.mcp_tools.tools.todo_group import TODOS_GROUP
from apps.providers.calls import CompletionRequest, Message
from apps.providers.registry import PROVIDERS
from apps.todos import selectors, services

PROMPT_MAX = 20_000
TODOS_IN_PROMPT = 100
EXTRACT_MAX = 50
SYSTEM = "You are the assistant of a todo app. Answer briefly and concretely."

PROVIDER = {"type": "string", "enum": sorted(PROVIDERS), "description": "Use only this provider (default: your order)."}
NULLABLE_STRING = {"type": ["string", "null"]}
AI_RESULT = {
    "text": {"type": "string"},
    "provider": NULLABLE_STRING,
    "model": NULLABLE_STRING,
    "usage": obj(
        {"input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"}},
        required=["input_tokens", "output_tokens"],
    ),
    "offline": {"type": "boolean"},
    "cached": {"type": "boolean"},
    "offline_reason": {"type": "string"},
    "providers_tried": {"type": "array", "items": {"type": "string"}},
    "retry_after": {"type": ["integer", "null"]},
    "notices": {"type": "array", "items": {"type": "string"}},
    # Present when a budget lowered max_tokens to what it had left (the notices say so in words too).
    "max_tokens_capped": obj(
        {"asked": {"type": "integer"}, "capped_to": {"type": "integer"}}, required=["asked", "capped_to"]
    ),
}
AI_REQUIRED = ["text", "provider", "model", "usage", "offline", "cached"]
AI = {"required_scope": AI_INVOKE, "open_world": True}


def _ask(principal: Principal, tool_name: str, prompt: str, *, cache_groups=(), **options: Any) -> dict[str, Any]:
    request = CompletionRequest(
        messages=(Message("system", SYSTEM), Message("user", prompt)),
        max_tokens=options.pop("max_tokens", None) or settings.AI_MAX_TOKENS_DEFAULT,
    )
    answer = assistant_complete(
        user=principal.user, request=request, tool_name=tool_name, cache_groups=cache_groups, **options
    )
    result = answer.as_result()
    result["cached"] = result.pop("answer_cached")
    return result


@tool(
    name="ai_complete",
    title="Ask your AI provider",
    description="Send a prompt to your own AI provider (your stored key, your provider order) and get the answer.",
    input_schema=obj(
        {
            "prompt": {"type": "string", "minLength": 1, "maxLength": PROMPT_MAX},
            "provider": PROVIDER,
            "model": {"type": "string", "minLength": 1, "maxLength": 100},
            "max_tokens": {"type": "integer", "minimum": 1, "maximum": 32_000},
        },
        required=["prompt"],
    ),
    output_schema=obj(AI_RESULT, required=AI_REQUIRED),
    read_only=True,
    **AI,
)
def ai_complete(
    principal: Principal, *, prompt: str, provider: str | None = None, model: str | None = None, max_tokens=None
) -> dict[str, Any]:
    return _ask(principal, "ai_complete", prompt, provider=provider, model=model, max_tokens=max_tokens)


def _todo_lines(principal: Principal, status: str) -> list[str]:
    tz = zone_or_utc(principal.user.timezone)
    lines = []
    for todo in selectors.todo_list(owner=principal.user, filters={"status": status})[:TODOS_IN_PROMPT]:
        due = f", due {todo.due_at.astimezone(tz):%Y-%m-%d %H:%M}" if todo.due_at else ""
        lines.append(f"- #{todo.pk} [{todo.priority}{due}] {todo.title}")
    return lines


@tool(
    name="ai_summarize_todos",
    title="Summarise my todos",
    description="A short summary of your todos (open by default) written by your AI provider.",
    input_schema=obj({"status": {"type": "string", "enum": ["open", "completed", "all"]}, "provider": PROVIDER}),
    output_schema=obj({**AI_RESULT, "todo_count": {"type": "integer"}}, required=[*AI_REQUIRED, "todo_count"]),
    read_only=True,
    **AI,
)
def ai_summarize_todos(principal: Principal, *, status: str = "open", provider: str | None = None) -> dict[str, Any]:
    lines = _todo_lines(principal, status)
    prompt = f"Summarise these {status} todos in a few sentences:\n" + ("\n".join(lines) or "(none)")
    result = _ask(principal, "ai_summarize_todos", prompt, provider=provider, cache_groups=(TODOS_GROUP,))
    return {**result, "todo_count": len(lines)}


@tool(
    name="ai_plan_day",
    title="Plan my day",
    description="Your AI provider suggests an order and priorities for your open todos on a day (default today).",
    input_schema=obj({"date": {"type": "string", "format": "date"}, "provider": PROVIDER}),
    output_schema=obj(
        {**AI_RESULT, "date": {"type": "string"}, "todo_count": {"type": "integer"}},
        required=[*AI_REQUIRED, "date", "todo_count"],
    ),
    read_only=True,
    **AI,
)
def ai_plan_day(principal: Principal, *, date: str | None = None, provider: str | None = None) -> dict[str, Any]:
    if date is None:
        day = timezone.now().astimezone(zone_or_utc(principal.user.timezone)).date()
    else:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            raise InvalidInput("Give the date as YYYY-MM-DD.", details={"date": ["Not a date."]}) from None
    lines = _todo_lines(principal, "open")
    prompt = (
        f"Plan my day on {day.isoformat()}: suggest the order to work in and a priority for each of these "
        "open todos, with one line of reason each:\n" + ("\n".join(lines) or "(none)")
    )
    result = _ask(principal, "ai_plan_day", prompt, provider=provider, cache_groups=(TODOS_GROUP,))
    return {**result, "date": day.isoformat(), "todo_count": len(lines)}


def _proposals(text: str) -> list[dict[str, Any]]:
    """The todos in the model's answer (a JSON array of {"title", "priority"?}); nothing if it gave none."""
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end <= start:
        return []
    try:
        items = json.loads(text[start : end + 1])
    except ValueError:
        return []
    proposals = []
    for item in items if isinstance(items, list) else []:
        title = item.get("title") if isinstance(item, dict) else item
        if isinstance(title, str) and title.strip():
            priority = item.get("priority") if isinstance(item, dict) else None
            proposals.append(
                {
                    "title": title.strip()[:200],
                    "priority": priority if priority in ("low", "medium", "high", "urgent") else "medium",
                }
            )
    return proposals[:EXTRACT_MAX]


PROPOSAL = obj({"title": {"type": "string"}, "priority": {"type": "string"}}, required=["title", "priority"])


@tool(
    name="ai_extract_todos",
    title="Find todos in a text",
    description=(
        "Your AI provider reads a text (an email, notes) and proposes todos. They are created only when "
        "`create` is true."
    ),
    input_schema=obj(
        {"text": {"type": "string", "minLength": 1, "maxLength": PROMPT_MAX}, "create": {"type": "boolean"}},
        required=["text"],
    ),
    output_schema=obj(
        {
            **AI_RESULT,
            "proposed": {"type": "array", "items": PROPOSAL},
            "created": {"type": "array", "items": obj({"id": {"type": "integer"}, "title": {"type": "string"}})},
        },
        required=[*AI_REQUIRED, "proposed", "created"],
    ),
    read_only=False,
    own_transactions=True,
    **AI,
)
def ai_extract_todos(principal: Principal, *, text: str, create: bool = False) -> dict[str, Any]:
    prompt = (
        'Extract todos from the text below. Answer only with a JSON array of {"title", "priority"} objects '
        "(priority: low, medium, high or urgent).\nExtract todos from:\n" + text
    )
    result = _ask(principal, "ai_extract_todos", prompt)
    proposed = _proposals(result["text"])
    created: list[dict[str, Any]] = []
    if create and proposed:
        # Created after the provider answered, in one short transaction: all of them or none.
        with transaction.atomic():
            for item in proposed:
                todo = services.todo_create(owner=principal.user, title=item["title"], priority=item["priority"])
                created.append({"id": todo.pk, "title": todo.title})
    return {**result, "proposed": proposed, "created": created}
