"""The chat loop: the user's provider answers, and every tool call it makes runs through the one pipeline.

The model is offered the caller's permitted todo tools (in its provider's tool format, as
the adapter of whichever provider answers speaks); each call it makes is authorised, limited,
audited and recorded by `tool_invoke` like a call from any other door. The loop ends at a final
answer or after CHAT_MAX_STEPS model calls. No transaction spans a provider call: the turns are
stored in short writes before and after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.accounts.scopes import AI_INVOKE
from apps.audit.masking import mask_text, mask_value
from apps.chat.models import ChatMessage, Conversation
from apps.core.errors import Forbidden, NotFound
from apps.core.timezones import zone_or_utc
from apps.mcp_tools.services import assistant_complete, todo_tools_available, tool_invoke
from apps.providers.calls import CompletionRequest, Message, ToolCallRequest, ToolDefinition, Usage

TOOL_RESULT_MAX_CHARS = 8_000
# Who said a message; pages that show a conversation tell the turns apart by it.
ChatRole = ChatMessage.Role
HISTORY_MAX_MESSAGES = 60


@dataclass
class ChatReply:
    conversation: Conversation
    content: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    provider: str | None = None
    model: str | None = None
    usage: Usage = field(default_factory=Usage)
    offline: bool = False
    offline_reason: str = ""
    retry_after: int | None = None
    notices: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "conversation_id": self.conversation.pk,
            "message": {"role": "assistant", "content": self.content},
            "tool_calls": self.tool_calls,
            "provider": self.provider,
            "model": self.model,
            "usage": self.usage.as_dict(),
            "offline": self.offline,
        }
        if self.offline:
            body.update(offline_reason=self.offline_reason, retry_after=self.retry_after)
        if self.notices:
            body["notices"] = self.notices
        return body


def _system_prompt(principal: Principal) -> str:
    tz = zone_or_utc(principal.user.timezone)
    now = timezone.now().astimezone(tz)
    return (
        "You help the user manage their todo list with the tools you are given. Use a tool when the user asks "
        f"for a change; answer briefly. Now is {now:%A %Y-%m-%d %H:%M} ({tz.key})."
    )


def _history(conversation: Conversation) -> list[Message]:
    rows = list(conversation.messages.order_by("-id")[:HISTORY_MAX_MESSAGES])[::-1]
    # A tool result whose call fell out of the window would be an orphan the providers refuse.
    while rows and rows[0].role == ChatMessage.Role.TOOL:
        rows.pop(0)
    history = []
    for row in rows:
        calls = tuple(ToolCallRequest(c["id"], c["tool_name"], c["arguments"]) for c in row.tool_calls or [])
        history.append(Message(row.role, row.content, tool_calls=calls, tool_call_id=row.tool_call_id))
    return history


def conversation_get(*, user: Any, conversation_id: Any) -> Conversation:
    try:
        conversation_id = int(conversation_id)
    except (TypeError, ValueError):
        raise NotFound("No such conversation.") from None
    conversation = Conversation.objects.filter(user=user, pk=conversation_id).first()
    if conversation is None:
        raise NotFound("No such conversation.", details={"id": conversation_id})
    return conversation


def _tool_definitions(principal: Principal) -> tuple[ToolDefinition, ...]:
    return tuple(
        ToolDefinition(name=spec.name, description=spec.description, input_schema=spec.input_schema)
        for spec in todo_tools_available(principal=principal)
    )


def _run_tool(principal: Principal, call: ToolCallRequest, offered: frozenset[str]) -> tuple[dict[str, Any], str]:
    outcome = tool_invoke(
        principal=principal, tool_name=call.name, arguments=call.arguments, transport="chat", offered=offered
    )
    if outcome.success:
        payload: dict[str, Any] = {"success": True, "result": outcome.result}
    else:
        error = outcome.error
        payload = {"success": False, "error": {"code": error.code, "message": error.message}}
    record = {"id": call.id, "tool_name": call.name, "arguments": call.arguments, **payload}
    record.setdefault("result", None)
    return record, json.dumps(payload, default=str)[:TOOL_RESULT_MAX_CHARS]


def chat_send(
    *,
    principal: Principal,
    messages: list[dict[str, str]],
    conversation_id: int | None = None,
    provider: str | None = None,
    model: str | None = None,
) -> ChatReply:
    """Add the user's messages to a conversation (a new one without an id) and run the loop to an answer."""
    # Here, not in each door: the API and the chat page ask the same question of the same principal.
    if AI_INVOKE not in principal.scopes:
        raise Forbidden("Your role or token may not use the assistant (it needs the ai:invoke scope).")
    user = principal.user
    if conversation_id is None:
        title = mask_text(messages[-1]["content"])[:200] if messages else ""
        conversation = Conversation.objects.create(user=user, title=title)
    else:
        conversation = conversation_get(user=user, conversation_id=conversation_id)
    ChatMessage.objects.bulk_create(
        ChatMessage(conversation=conversation, role=ChatMessage.Role.USER, content=mask_text(m["content"]))
        for m in messages
    )
    transcript = [Message("system", _system_prompt(principal)), *_history(conversation)]
    tools = _tool_definitions(principal)
    offered = frozenset(tool.name for tool in tools)
    reply = ChatReply(conversation=conversation, content="")
    input_tokens = output_tokens = 0
    for _step in range(settings.CHAT_MAX_STEPS):
        request = CompletionRequest(messages=tuple(transcript), tools=tools, max_tokens=settings.AI_MAX_TOKENS_DEFAULT)
        answer = assistant_complete(
            user=user, request=request, tool_name="chat", provider=provider, model=model, cacheable=False, door="chat"
        )
        reply.notices += answer.notices
        response = answer.response
        if response is None:
            reply.offline, reply.offline_reason, reply.retry_after = True, answer.offline_reason, answer.retry_after
            reply.content = f"The AI provider cannot be reached right now. {answer.offline_reason}".strip()
            break
        reply.provider, reply.model = response.provider, response.model
        input_tokens += response.usage.input_tokens
        output_tokens += response.usage.output_tokens
        if not response.tool_calls:
            reply.content = response.text
            break
        transcript.append(Message("assistant", response.text, tool_calls=response.tool_calls))
        records = []
        for call in response.tool_calls:
            record, result_text = _run_tool(principal, call, offered)
            records.append(record)
            transcript.append(Message("tool", result_text, tool_call_id=call.id))
        reply.tool_calls += [{k: v for k, v in r.items() if k != "id"} for r in records]
        _store_tool_turn(conversation, response.text, records, transcript[-len(records) :])
    else:
        reply.content = reply.content or "I stopped after too many tool calls; ask me again to continue."
    reply.usage = Usage(input_tokens, output_tokens)
    ChatMessage.objects.create(
        conversation=conversation,
        role=ChatMessage.Role.ASSISTANT,
        content=mask_text(reply.content),
        provider=reply.provider or "",
        model=(reply.model or "")[:100],
        input_tokens=input_tokens,
        output_tokens=output_tokens,
    )
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
    return reply


def _store_tool_turn(conversation: Conversation, text: str, records: list[dict], results: list[Message]) -> None:
    ChatMessage.objects.create(
        conversation=conversation,
        role=ChatMessage.Role.ASSISTANT,
        content=mask_text(text),
        # Stored like the message text: a key the model put in a tool's arguments is masked too.
        tool_calls=[
            {"id": r["id"], "tool_name": r["tool_name"], "arguments": mask_value(r["arguments"])} for r in records
        ],
    )
    ChatMessage.objects.bulk_create(
        ChatMessage(
            conversation=conversation,
            role=ChatMessage.Role.TOOL,
            content=mask_text(m.content),
            tool_call_id=m.tool_call_id,
        )
        for m in results
    )


def conversations_list(*, user: Any) -> list[Conversation]:
    return list(Conversation.objects.filter(user=user)[:100])


def conversation_messages(*, conversation: Conversation) -> list[ChatMessage]:
    return list(conversation.messages.all())
