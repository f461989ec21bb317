#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    if "DEBUG" not in os.environ and "SECRET_KEY" not in os.environ:
        # An unconfigured checkout is a developer's: commands run in development mode. The
        # served processes (wsgi, asgi, celery) still refuse to start without a SECRET_KEY.
        os.environ["DEBUG"] = "1"
        print("manage.py: no SECRET_KEY or DEBUG set; running with DEBUG=1", file=sys.stderr)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
