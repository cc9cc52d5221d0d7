"""A user's provider preferences: the order providers are tried in and the model asked of each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from apps.audit.services import audit_event_record
from apps.core.errors import InvalidInput
from apps.providers.answer_cache import answer_invalidate_user
from apps.providers.models import AIPreference
from apps.providers.registry import PROVIDERS

MODEL_NAME_MAX_LENGTH = 100


@dataclass(frozen=True)
class Preferences:
    provider_order: tuple[str, ...]
    models: dict[str, str]

    def model_for(self, provider: str) -> str:
        return self.models.get(provider, "")

    def as_dict(self) -> dict[str, Any]:
        return {"provider_order": list(self.provider_order), "models": dict(self.models)}


def _default_models() -> dict[str, str]:
    return {name: spec.model_default() for name, spec in PROVIDERS.items()}


def _complete_order(order: list[str]) -> tuple[str, ...]:
    """The user's order first, then every other provider in the configured default order."""
    rest = [p for p in [*settings.AI_DEFAULT_PROVIDER_ORDER, *PROVIDERS] if p in PROVIDERS and p not in order]
    return tuple(dict.fromkeys([*order, *rest]))


def ai_preferences_get(*, user: Any) -> Preferences:
    row = AIPreference.objects.filter(user=user).first()
    order = list(row.provider_order) if row is not None else []
    models = {**_default_models(), **(row.model_by_provider if row is not None else {})}
    return Preferences(provider_order=_complete_order(order), models={k: v for k, v in models.items() if v})


def _clean(provider_order: Any, models: Any) -> tuple[list[str], dict[str, str]]:
    errors: dict[str, list[str]] = {}
    choices = ", ".join(sorted(PROVIDERS))
    if not isinstance(provider_order, list) or not all(isinstance(p, str) for p in provider_order):
        errors["provider_order"] = ["A list of provider names."]
    elif unknown := sorted({p for p in provider_order if p not in PROVIDERS}):
        errors["provider_order"] = [f"Unknown provider(s): {', '.join(unknown)}. Choose from {choices}."]
    elif len(set(provider_order)) != len(provider_order):
        errors["provider_order"] = ["Name each provider once."]
    if not isinstance(models, dict):
        errors["models"] = ["An object of provider name to model name."]
    else:
        for name, model in models.items():
            if name not in PROVIDERS:
                errors.setdefault("models", []).append(f"Unknown provider {name!r}. Choose from {choices}.")
            elif not isinstance(model, str) or not model.strip() or len(model) > MODEL_NAME_MAX_LENGTH:
                errors.setdefault("models", []).append(
                    f"The model for {name} must be a name of 1 to {MODEL_NAME_MAX_LENGTH} characters."
                )
    if errors:
        raise InvalidInput("The preferences are invalid.", details=errors)
    return provider_order, {name: model.strip() for name, model in models.items()}


@transaction.atomic
def ai_preferences_update(*, user: Any, provider_order: Any = None, models: Any = None) -> Preferences:
    """Switch providers: a new order and/or models per provider. Cached answers of the old choice go."""
    row, _ = AIPreference.objects.select_for_update().get_or_create(user=user)
    order, chosen = _clean(
        row.provider_order if provider_order is None else provider_order,
        row.model_by_provider if models is None else models,
    )
    row.provider_order, row.model_by_provider = order, chosen
    row.save()
    audit_event_record(
        action="ai_preferences.changed",
        actor=user,
        target_type="user",
        target_id=user.pk,
        data={"provider_order": order, "models": chosen},
    )
    answer_invalidate_user(user_id=user.pk)
    transaction.on_commit(lambda: answer_invalidate_user(user_id=user.pk))
    return ai_preferences_get(user=user)
