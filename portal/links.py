"""Absolute links to the portal's pages, for what leaves it: emails, chat messages."""

from django.conf import settings


def portal_url(path: str, base_url: str = "") -> str:
    """`path` made absolute from `base_url` (the origin the current request reached, as
    invitation links are built), else from PORTAL_BASE_URL (what workers use); else relative."""
    origin = base_url or settings.PORTAL_BASE_URL
    return origin.rstrip("/") + path
