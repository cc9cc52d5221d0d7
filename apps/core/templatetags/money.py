"""{{ amount|money }}: see apps/core/money.py."""

from __future__ import annotations

from django import template

from apps.core.money import money_format

register = template.Library()
register.filter("money", money_format)
