"""Forms parse what people type; the services decide whether it is allowed (and say why not)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm
from django.utils import timezone

from apps.accounts.scopes import SCOPES
from apps.audit.integrity import INTEGRITY_STATES
from apps.audit.selectors import AUDIT_CATEGORY_CHOICES, AUDIT_OUTCOME_CHOICES, AuditFilters
from apps.core.errors import INVALID, DomainError, RateLimited
from apps.core.request_context import DOORS
from apps.core.timezones import timezone_choices
from apps.keys.services import API_KEY_MAX_LENGTH, LABEL_MAX_LENGTH
from apps.providers.registry import PROVIDERS, key_mask_examples

EXPIRY_DAY_CHOICES = [
    ("", "Never"),
    ("7", "In 7 days"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In a year"),
]


def error_text(error: DomainError) -> str:
    """A refusal in words for a page; a rate limit says how long to wait."""
    if isinstance(error, RateLimited):
        return f"{error.message} (wait {error.retry_after} seconds)"
    return error.message


def form_add_domain_error(form: forms.Form, error: DomainError, *, field: str | None = None) -> None:
    """A service's refusal onto the form, next to the field it is about.

    Invalid input carries one message list per field (shown as they are); other refusals name the
    field their details are about (a taken label, refused scopes) and get their message there. A
    refusal naming no field of the form goes on `field`, or on top of the form.
    """
    details = error.details if isinstance(error.details, dict) else {}
    # Only lists name a field; a plain value is data (a duplicate's label, an id).
    named = [name for name in details if name in form.fields and isinstance(details[name], list | tuple)]
    if error.kind == INVALID and named and not isinstance(error, RateLimited):
        for name in named:
            for message in details[name]:
                form.add_error(name, str(message))
        return
    target = named[0] if named else field if field in form.fields else None
    form.add_error(target, error_text(error))


class NoColonMixin:
    """Labels without Django's trailing colon: they read as names ("Name", not "Name:")."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class PageForm(NoColonMixin, forms.Form):
    pass


def _date_to_end_of_day(value: dt.date | None) -> dt.datetime | None:
    """An expiry date as people mean it: the key works through that day (UTC)."""
    if value is None:
        return None
    return dt.datetime.combine(value, dt.time(23, 59, 59), tzinfo=dt.UTC)


class LoginForm(NoColonMixin, AuthenticationForm):
    pass


class NewPasswordForm(NoColonMixin, SetPasswordForm):
    pass


class SignupForm(PageForm):
    username = forms.RegexField(
        regex=r"^[\w.@+-]+\Z",
        max_length=150,
        help_text="Letters, digits and @ . + - _ only.",
        error_messages={"invalid": "Use letters, digits and @ . + - _ only."},
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    email = forms.EmailField(
        required=False,
        max_length=254,
        help_text="For password reset links.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        max_length=128,
        strip=False,
        help_text="At least 10 characters, not a common password.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    # The browser's own zone is preselected by static/web/site.js when the list has it.
    timezone = forms.ChoiceField(
        choices=timezone_choices,
        initial="UTC",
        help_text="Due dates like \u201ctomorrow 5pm\u201d are read in it.",
        widget=forms.Select(attrs={"data-browser-zone": ""}),
    )


class PasswordChangeForm(PageForm):
    old_password = forms.CharField(
        label="Current password",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password = forms.CharField(
        label="New password",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class PasswordResetRequestForm(PageForm):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class KeyAddForm(PageForm):
    provider = forms.ChoiceField(choices=[(name, spec.display_name) for name, spec in PROVIDERS.items()])
    api_key = forms.CharField(
        label="API key",
        max_length=API_KEY_MAX_LENGTH,
        strip=False,
        # A password box: the key is not echoed on screen, and browsers do not keep it in form history.
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=f"Stored encrypted; shown afterwards only as a mask such as {key_mask_examples()}.",
    )
    label = forms.CharField(required=False, max_length=LABEL_MAX_LENGTH, help_text="A name such as Work or Personal.")
    base_url = forms.URLField(
        label="Base URL",
        required=False,
        max_length=300,
        assume_scheme="https",
        help_text="Only for a key to your own server ("
        + ", ".join(spec.display_name for spec in PROVIDERS.values() if spec.user_base_url)
        + ").",
    )
    expires_at = forms.DateField(
        label="Expires on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional. The key is not used after this day.",
    )
    validate = forms.BooleanField(
        label="Check it with the provider now",
        required=False,
        initial=True,
    )

    def expiry(self) -> dt.datetime | None:
        return _date_to_end_of_day(self.cleaned_data.get("expires_at"))


class KeyRotateForm(PageForm):
    api_key = forms.CharField(
        label="New API key",
        max_length=API_KEY_MAX_LENGTH,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    validate = forms.BooleanField(label="Check it with the provider now", required=False, initial=True)


class KeyExpiryForm(PageForm):
    expires_at = forms.DateField(
        label="Expires on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty for no expiry.",
    )

    def expiry(self) -> dt.datetime | None:
        return _date_to_end_of_day(self.cleaned_data.get("expires_at"))


class TokenCreateForm(PageForm):
    name = forms.CharField(max_length=100, help_text="Where it is used, e.g. Claude Desktop on my laptop.")
    scopes = forms.MultipleChoiceField(
        choices=[(name, f"{name} \u2014 {description}") for name, description in SCOPES.items()],
        widget=forms.CheckboxSelectMultiple,
        help_text="Give a client only what it needs.",
    )
    expires_in_days = forms.TypedChoiceField(
        label="Expires", choices=EXPIRY_DAY_CHOICES, required=False, coerce=int, empty_value=None, initial="90"
    )

    def expiry(self) -> dt.datetime | None:
        days = self.cleaned_data.get("expires_in_days")
        return timezone.now() + dt.timedelta(days=days) if days else None


class ToolTryForm(PageForm):
    tool_name = forms.ChoiceField(label="Tool")
    arguments = forms.CharField(
        label="Arguments (JSON)",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text='Empty for none, or an object such as {"status": "open"}.',
    )

    def __init__(self, *args, tools: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tool_name"].choices = tools


def _any(choices: list[tuple[str, str]] | tuple[str, ...], label: str) -> list[tuple[str, str]]:
    pairs = [(c, c) if isinstance(c, str) else c for c in choices]
    return [("", label), *pairs]


class ActivityFilterForm(PageForm):
    """The activity page's filters (GET): days in UTC, both ends inclusive."""

    since = forms.DateField(label="From (UTC)", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="Through (UTC)", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    category = forms.ChoiceField(label="Category", required=False, choices=_any(AUDIT_CATEGORY_CHOICES, "Any"))
    action = forms.CharField(
        label="Action", required=False, max_length=80, help_text="For example provider_key.created."
    )
    outcome = forms.ChoiceField(label="Outcome", required=False, choices=_any(AUDIT_OUTCOME_CHOICES, "Any"))
    door = forms.ChoiceField(label="Door", required=False, choices=_any(DOORS, "Any"))
    integrity = forms.ChoiceField(
        label="Integrity",
        required=False,
        choices=_any(INTEGRITY_STATES, "Any"),
        help_text="forged: a row the gateway did not write (tell an operator).",
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The end is before the start.")
        return data

    def filters(self) -> AuditFilters:
        data = self.cleaned_data
        since, until = data.get("since"), data.get("until")
        return AuditFilters(
            since=dt.datetime.combine(since, dt.time.min, tzinfo=dt.UTC) if since else None,
            until=dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC) if until else None,
            category=data.get("category") or "",
            action=(data.get("action") or "").strip(),
            outcome=data.get("outcome") or "",
            door=data.get("door") or "",
            integrity=data.get("integrity") or "",
        )


class ChatMessageForm(PageForm):
    message = forms.CharField(
        label="Your message",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example: create todo: buy milk, or what is due this week?",
    )


ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth")


class ProviderOrderForm(PageForm):
    """The order providers are tried in, and the model asked of each (apps.providers' preferences).

    One choice per place; the service refuses a provider named twice (its rule, not the form's)."""

    def __init__(self, *args, preferences=None, **kwargs) -> None:
        if preferences is not None and not kwargs.get("initial"):
            initial = {f"choice_{index}": name for index, name in enumerate(preferences.provider_order)}
            initial.update({f"model_{name}": model for name, model in preferences.models.items()})
            kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        names = [(name, spec.display_name) for name, spec in PROVIDERS.items()]
        for index in range(len(names)):
            self.fields[f"choice_{index}"] = forms.ChoiceField(label=f"{ORDINALS[index]} choice", choices=names)
        for name, display in names:
            self.fields[f"model_{name}"] = forms.CharField(
                label=f"{display} model",
                required=False,
                max_length=100,
                help_text="Empty: the server's default." if PROVIDERS[name].default_model_setting else "",
            )

    def provider_order(self) -> list[str]:
        return [self.cleaned_data[f"choice_{index}"] for index in range(len(PROVIDERS))]

    def models(self) -> dict[str, str]:
        models = {name: (self.cleaned_data.get(f"model_{name}") or "").strip() for name in PROVIDERS}
        return {name: model for name, model in models.items() if model}
