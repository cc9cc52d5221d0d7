"""/chat/: the chatbot on the chat app's loop (apps.chat.services), with the user's todos beside it.

Works without JavaScript: a message is a form POST answered by a redirect to the conversation, whose
page shows every turn, the tool calls the assistant made (with their results) and the todo list as it
is now. Failures are shown as what they are: offline (no provider answered), rate limited, over budget.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.accounts.principal import principal_for_user
from apps.chat import services as chat_services
from apps.core.errors import DomainError, RateLimited
from apps.core.timezones import zone_or_utc
from apps.todos.selectors import todo_list
from apps.web.forms import ChatMessageForm, error_text
from apps.web.views.common import render_page, signed_in_page

if TYPE_CHECKING:
    from apps.chat.models import Conversation
    from apps.todos.models import Todo

TODOS_SHOWN = 30
RESULT_SHOWN_CHARS = 600


def _tool_outcome(text: str) -> dict[str, Any]:
    """A stored tool result (the JSON the model saw) -> done or failed, and a short summary."""
    try:
        payload = json.loads(text)
    except (TypeError, ValueError):
        return {"success": None, "summary": ""}
    if not isinstance(payload, dict):
        return {"success": None, "summary": ""}
    if payload.get("success") is False:
        error = payload.get("error") or {}
        return {"success": False, "summary": f"{error.get('code', 'error')}: {error.get('message', '')}"}
    return {"success": True, "summary": json.dumps(payload.get("result"), default=str)[:RESULT_SHOWN_CHARS]}


def _turns(conversation: Conversation) -> list[dict[str, Any]]:
    """Messages as the page shows them: tool calls inline with their results, tool messages folded in."""
    rows = chat_services.conversation_messages(conversation=conversation)
    results = {row.tool_call_id: row.content for row in rows if row.role == chat_services.ChatRole.TOOL}
    turns = []
    for row in rows:
        if row.role == chat_services.ChatRole.TOOL:
            continue
        calls = [
            {
                "tool_name": call.get("tool_name", ""),
                "arguments": json.dumps(call.get("arguments"), default=str),
                **_tool_outcome(results.get(call.get("id", ""), "")),
            }
            for call in row.tool_calls or []
        ]
        if row.content or calls:
            turns.append({"role": row.role, "content": row.content, "calls": calls, "model": row.model})
    return turns


def _open_todos(user: Any) -> list[Todo]:
    return list(todo_list(owner=user, filters={"status": "open"})[:TODOS_SHOWN])


def _send(request: HttpRequest, form: ChatMessageForm, conversation: Conversation | None) -> HttpResponse | None:
    """Run one turn; a redirect to the conversation when it ran, None when the page shows a refusal."""
    reply = chat_services.chat_send(
        principal=principal_for_user(request.user),
        messages=[{"role": "user", "content": form.cleaned_data["message"]}],
        conversation_id=conversation.pk if conversation is not None else None,
    )
    if reply.offline:
        wait = f" Try again in {reply.retry_after} seconds." if reply.retry_after else ""
        # The reason is a sentence of its own, usually with its full stop.
        reason = (reply.offline_reason or "no provider answered").rstrip(". ")
        messages.warning(request, f"Offline: {reason}.{wait}")
    for notice in reply.notices:
        messages.info(request, notice)
    return redirect("web:chat_conversation", conversation_id=reply.conversation.pk)


@signed_in_page
def chat_page(request: HttpRequest, conversation_id: int | None = None) -> HttpResponse:
    conversation = (
        chat_services.conversation_get(user=request.user, conversation_id=conversation_id)
        if conversation_id is not None
        else None
    )
    form = ChatMessageForm(request.POST if request.method == "POST" else None)
    error: DomainError | None = None
    if request.method == "POST" and form.is_valid():
        try:
            return _send(request, form, conversation)
        except DomainError as exc:
            error = exc
            form.add_error(None, error_text(exc))
    context = {
        "conversations": chat_services.conversations_list(user=request.user),
        "conversation": conversation,
        "turns": _turns(conversation) if conversation is not None else [],
        "form": form,
        "todos": _open_todos(request.user),
        # Due times in the user's own zone, as the tools and the API give them.
        "user_zone": zone_or_utc(request.user.timezone),
        "refusal": error.code if error is not None else "",
        "rate_limited": isinstance(error, RateLimited),
    }
    return render_page(request, "web/chat.html", context, error=error)
