"""The portal's own settings, plus the bench's floor view (bench/urls.py); nothing else differs,
except in the smoke test's runs (`bench.run --small`), which skip collectstatic: their figures
mean nothing, only that every measurement still runs."""

import os

from portal.settings import *  # noqa: F403
from portal.settings import STORAGES

ROOT_URLCONF = "bench.urls"

if os.environ.get("BENCH_PLAIN_STATIC") == "1":
    STORAGES = {
        **STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
