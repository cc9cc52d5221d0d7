"""What the pages do beyond calling other apps' services: the guided setup's progress, and trying a tool.

Pages never re-implement a rule: keys go through apps.keys.services, tokens through
apps.accounts.pats, tool calls through the one pipeline (transport "web").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from apps.accounts.models import User
from apps.accounts.principal import principal_for_user
from apps.accounts.selectors import pat_exists
from apps.core.errors import InvalidInput
from apps.keys.selectors import provider_key_setup_state
from apps.mcp_tools.pipeline import InvocationResult, tool_invoke
from apps.providers.selectors import ai_preferences_saved
from apps.web.models import SetupStep

Step = SetupStep.Step

# The steps in the order the page walks through them.
SETUP_STEPS: tuple[str, ...] = (
    Step.KEY_ADDED,
    Step.KEY_VALIDATED,
    Step.PROVIDER_ORDER,
    Step.TOKEN_CREATED,
    Step.CLIENT_CONFIGURED,
    Step.TOOL_TRIED,
)
# Tools offered on the setup page: read-only, so trying one changes nothing.
TRY_TOOLS: tuple[str, ...] = ("todo_overview", "whoami", "current_time", "list_todos")
TRY_ARGUMENTS_MAX_CHARS = 4000


@dataclass(frozen=True)
class StepState:
    step: str
    label: str
    done: bool


@dataclass(frozen=True)
class SetupProgress:
    steps: list[StepState]

    @property
    def done(self) -> dict[str, bool]:
        return {state.step: state.done for state in self.steps}

    @property
    def done_count(self) -> int:
        return sum(1 for state in self.steps if state.done)

    @property
    def total(self) -> int:
        return len(self.steps)

    @property
    def current(self) -> str | None:
        """The first step not done yet; None when the setup is complete."""
        return next((state.step for state in self.steps if not state.done), None)

    @property
    def complete(self) -> bool:
        return self.current is None


def setup_step_complete(*, user: User, step: str) -> bool:
    """Record that `user` did `step`; True the first time. Idempotent under concurrent requests."""
    if step not in Step.values:
        raise InvalidInput(f"Unknown setup step {step!r}.", details={"step": [f"Must be one of {Step.values}."]})
    if SetupStep.objects.filter(user=user, step=step).exists():
        return False
    try:
        with transaction.atomic():
            SetupStep.objects.create(user=user, step=step)
    except IntegrityError:  # a concurrent request recorded it first
        return False
    return True


def _steps_shown_by_state(*, user: User) -> set[str]:
    """Steps the user's data already proves, whichever door did them (the API, the pages, the admin)."""
    done: set[str] = set()
    has_key, has_valid_key = provider_key_setup_state(owner=user)
    if has_key:
        done.add(Step.KEY_ADDED)
    if has_valid_key:
        done.add(Step.KEY_VALIDATED)
    if pat_exists(user=user):
        done.add(Step.TOKEN_CREATED)
    if ai_preferences_saved(user=user):
        done.add(Step.PROVIDER_ORDER)
    return done


def setup_progress(*, user: User) -> SetupProgress:
    """Where `user` stands in the guided setup; steps their data proves are recorded on the way."""
    recorded = set(SetupStep.objects.filter(user=user).values_list("step", flat=True))
    for step in _steps_shown_by_state(user=user) - recorded:
        setup_step_complete(user=user, step=step)
        recorded.add(step)
    return SetupProgress(
        steps=[StepState(step=step, label=Step(step).label, done=step in recorded) for step in SETUP_STEPS]
    )


def tool_arguments_parse(text: str) -> dict[str, Any]:
    """The arguments box on the page: a JSON object, or empty for none."""
    text = (text or "").strip()
    if not text:
        return {}
    if len(text) > TRY_ARGUMENTS_MAX_CHARS:
        raise InvalidInput(
            "The arguments are too long.", details={"arguments": [f"At most {TRY_ARGUMENTS_MAX_CHARS} characters."]}
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            "The arguments are not valid JSON.", details={"arguments": [f"Not JSON: {exc.msg} (line {exc.lineno})."]}
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput("The arguments must be a JSON object.", details={"arguments": ['Write e.g. {"limit": 5}.']})
    return value


def tool_try(*, user: User, tool_name: str, arguments: dict[str, Any]) -> InvocationResult:
    """Run a tool for the signed-in user through the one pipeline (authorised, limited, audited as
    any other call); a success completes the setup's last step."""
    outcome = tool_invoke(
        principal=principal_for_user(user, auth_method="session"),
        tool_name=tool_name,
        arguments=arguments,
        transport="web",
    )
    if outcome.success:
        setup_step_complete(user=user, step=Step.TOOL_TRIED)
    return outcome
