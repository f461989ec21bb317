"""The portal's own settings, plus the bench's floor view (bench/urls.py); nothing else differs."""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
