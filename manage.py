#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if len(sys.argv) > 1:
        from config.secret_generators import COMMANDS, run

        # The secret generators run before the settings load: production settings need their output.
        if sys.argv[1] in COMMANDS:
            sys.exit(run(sys.argv[1], sys.argv[2:]))
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
