import datetime as dt

import factory
from django.utils import timezone

from apps.todos.models import Todo


class TodoFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Todo

    title = factory.Sequence(lambda n: f"Task {n}")
    priority = "medium"
    due_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=3))
