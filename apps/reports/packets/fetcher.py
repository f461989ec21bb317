"""WeasyPrint's URL fetcher for packets: nothing leaves the process (RELIABILITY case 18).

A packet is built from the portal's own data only; every URL a template or user text could name
(file://, http(s)://, a redirect, CSS url() or @import, <link rel=attachment>) is refused.
Only data: URIs the renderer generated itself and registered here are served.
"""

import base64
from urllib.parse import unquote_to_bytes

from weasyprint.urls import URLFetcher, URLFetcherResponse


class RefusedURL(ValueError):
    """A packet asked for a URL that is not one of its own generated images."""


class PacketFetcher(URLFetcher):
    """Serves only the registered data: URIs; refuses every other URL before any I/O."""

    def __init__(self, allowed: frozenset[str] = frozenset()) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False)
        self.allowed = allowed
        self.refused: list[str] = []

    def fetch(self, url: str, headers=None) -> URLFetcherResponse:
        if url not in self.allowed or not url.startswith("data:image/"):
            self.refused.append(url[:200])
            raise RefusedURL(f"packet renderer fetches nothing: {url[:80]}")
        meta, _, payload = url[5:].partition(",")
        body = base64.b64decode(payload) if meta.endswith(";base64") else unquote_to_bytes(payload)
        return URLFetcherResponse(url, body, {"Content-Type": meta.split(";")[0]})

    def open(self, url, data=None, timeout=None):  # noqa: ARG002 - urllib's signature
        return self.fetch(getattr(url, "full_url", url))
