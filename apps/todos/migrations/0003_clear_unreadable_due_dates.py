from django.db import migrations

# Before due dates had a supported range, a todo could be stored due in year 0 or 10000 (year 1 or
# 9999 with a far UTC offset). PostgreSQL keeps such a value, but Python cannot hold it, so the owner's
# whole list failed to load. Those due dates cannot be shown or kept; clearing them makes the lists
# readable again (the todos themselves stay). Dates in the range Python can hold are left alone.
CLEAR_UNREADABLE = (
    "UPDATE todos_todo SET due_at = NULL "
    "WHERE due_at < '0001-01-01 00:00:00+00' OR due_at >= '10000-01-01 00:00:00+00'"
)


def clear_unreadable_due_dates(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite stores text that Django refuses to write outside years 1..9999
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(CLEAR_UNREADABLE)


class Migration(migrations.Migration):
    dependencies = [
        ("todos", "0002_due_at_supported_range"),
    ]

    operations = [
        migrations.RunPython(clear_unreadable_due_dates, migrations.RunPython.noop),
    ]
