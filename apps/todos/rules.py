"""What a valid todo is: field lengths, tag limits, priorities and their order.

Its own module (the models use it) so that other apps, whose tool schemas and forms state the same
limits, read them here rather than from the todos models (tests/test_architecture.py).
"""

from __future__ import annotations

from django.db import models

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 10_000
TAG_MAX_LENGTH = 40
TAGS_PER_TODO_MAX = 20


class Priority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


# Sorting by priority means by urgency, not alphabetically.
PRIORITY_RANK = {Priority.LOW: 1, Priority.MEDIUM: 2, Priority.HIGH: 3, Priority.URGENT: 4}
