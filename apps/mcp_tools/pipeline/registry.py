"""The tool registry: every tool is registered once, in code, with its schemas and annotations.

Registration is the whole cost of a new tool: the pipeline gives it authorisation, validation,
rate limiting, caching, usage records and audit. AI provider tools will be one `tool_register`
(or `@tool(...)`) each, with `required_scope="ai:invoke"`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from apps.accounts.roles import ROLE_OPERATOR, ROLE_USER

DEFAULT_ROLES = frozenset({ROLE_USER, ROLE_OPERATOR})
ANNOTATION_KEYS = ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    input_schema: dict  # JSON Schema (draft 2020-12), "additionalProperties": false
    output_schema: dict | None  # JSON Schema of the `result` object
    annotations: dict  # {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}
    required_scope: str  # e.g. "todos:read"
    func: Callable[..., dict]  # func(principal, **arguments) -> JSON-able dict
    default_roles: frozenset[str] = DEFAULT_ROLES
    # Defaults for the ToolPolicy row created on first sight; the admin owns the values afterwards.
    default_cacheable: bool = False
    default_cache_ttl: int | None = None
    # The cache group whose per-user version is part of this tool's result keys (e.g. "todos"). Entries
    # go stale through the model signals in cache.py, whichever door changed the data; tools do not
    # name what they invalidate.
    cache_group: str = ""
    # A tool that waits on the network (an AI provider) opens its own short transactions, so no
    # database connection is held, in a transaction, while it waits.
    own_transactions: bool = False

    @property
    def read_only(self) -> bool:
        return bool(self.annotations.get("readOnlyHint"))

    @property
    def open_world(self) -> bool:
        """It reaches outside the service (a provider): it must not run inside a database transaction."""
        return bool(self.annotations.get("openWorldHint"))

    @cached_property
    def validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.input_schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


_REGISTRY: dict[str, ToolSpec] = {}


def _check_schema(name: str, schema: dict | None, *, what: str) -> None:
    # The shape only: whether the schema is valid draft 2020-12 is a system check (schema_errors
    # below, run by `manage.py check`, by `migrate` at every start and by the gate). Validating 34
    # schemas against the meta-schema cost 0.32 s of CPU in every process that imports the tools
    # (every web and Celery process, every manage.py command), an eighth of a Django start.
    if schema is None:
        return
    if schema.get("type") != "object" or schema.get("additionalProperties") is not False:
        raise ValueError(f"Tool {name!r}: the {what} schema must be an object with additionalProperties false.")


def schema_errors() -> list[str]:
    """Every registered schema that is not valid JSON Schema draft 2020-12, one line each."""
    meta = Draft202012Validator(Draft202012Validator.META_SCHEMA)
    errors = []
    for spec in _REGISTRY.values():
        for what, schema in (("input", spec.input_schema), ("output", spec.output_schema)):
            if schema is None:
                continue
            error = best_match(meta.iter_errors(schema))
            if error is not None:
                errors.append(f"Tool {spec.name!r}: the {what} schema is not valid JSON Schema: {error.message}")
    return errors


def tool_register(spec: ToolSpec) -> ToolSpec:
    """Add a tool; a second registration under the same name is a programming error."""
    from apps.accounts.scopes import SCOPES

    if spec.name in _REGISTRY:
        raise ValueError(f"Tool {spec.name!r} is already registered.")
    if spec.required_scope not in SCOPES:
        raise ValueError(f"Tool {spec.name!r}: unknown scope {spec.required_scope!r}.")
    missing = [key for key in ANNOTATION_KEYS if not isinstance(spec.annotations.get(key), bool)]
    if missing:
        raise ValueError(f"Tool {spec.name!r}: annotations must set {missing} to true or false.")
    _check_schema(spec.name, spec.input_schema, what="input")
    _check_schema(spec.name, spec.output_schema, what="output")
    _REGISTRY[spec.name] = spec
    return spec


def tool(
    *,
    name: str,
    title: str,
    description: str,
    input_schema: dict,
    output_schema: dict | None,
    required_scope: str,
    read_only: bool,
    destructive: bool = False,
    idempotent: bool = False,
    open_world: bool = False,
    **options: Any,
) -> Callable[[Callable[..., dict]], Callable[..., dict]]:
    """Decorator form of tool_register for a plain function `func(principal, **arguments) -> dict`."""

    def decorator(func: Callable[..., dict]) -> Callable[..., dict]:
        tool_register(
            ToolSpec(
                name=name,
                title=title,
                description=description,
                input_schema=input_schema,
                output_schema=output_schema,
                annotations={
                    "readOnlyHint": read_only,
                    "destructiveHint": destructive,
                    "idempotentHint": idempotent,
                    "openWorldHint": open_world,
                },
                required_scope=required_scope,
                func=func,
                **options,
            )
        )
        return func

    return decorator


def tool_get(name: Any) -> ToolSpec | None:
    return _REGISTRY.get(name) if isinstance(name, str) else None


def tools_registered() -> list[ToolSpec]:
    return sorted(_REGISTRY.values(), key=lambda spec: spec.name)
