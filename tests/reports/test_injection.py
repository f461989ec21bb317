"""RELIABILITY case 18: hostile text in a packet fetches nothing, embeds nothing, stays text."""

import socket
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.gates.models import Gate, Waiver
from apps.reports.packets.fetcher import PacketFetcher, RefusedURL
from apps.reports.packets.render import html_to_pdf, render_packet
from tests.reports.conftest import approve_all
from tests.reports.pdftext import pdf_text


class Listener:
    """A loopback TCP listener that counts the connections it is offered."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


def hostile(port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    return (
        '<link rel="attachment" href="file:///etc/passwd">'
        f'<img src="{base}/pixel.png"><style>@import url({base}/a.css);'
        f"body {{ background: url({base}/b.png) }}</style>"
        f'<div style="background-image: url({base}/c.png)">x</div>'
        f'<object data="{base}/d"></object><iframe src="file:///etc/passwd"></iframe>'
    )


def assert_nothing_leaked(pdf: bytes, listener: Listener) -> None:
    time.sleep(0.3)  # let the listener thread count a late connection
    assert listener.connections == 0
    assert b"/EmbeddedFile" not in pdf and b"/Filespec" not in pdf
    assert "root:x:0:0" not in pdf_text(pdf)
    assert b"root:x:0:0" not in pdf


@pytest.mark.django_db
def test_hostile_comments_and_reasons_are_printed_as_text_and_fetch_nothing(atlas, listener):
    payload = hostile(listener.port)
    approve_all(atlas, comment=payload, printed_name="<b>Mallory</b>")
    gate = Gate.objects.get(launch=atlas, key="coverage")
    Waiver.objects.create(
        gate=gate,
        reason=payload,
        granted_by_name="m",
        expires_at=timezone.now() + timedelta(days=1),
    )
    pdf = render_packet(atlas, now=timezone.now())
    assert_nothing_leaked(pdf, listener)
    text = pdf_text(pdf)
    assert '<link rel="attachment"' in text  # autoescaped: shown, not parsed
    assert "<b>Mallory</b>" in text


@pytest.mark.django_db
def test_a_one_megabyte_unbroken_comment_renders_bounded_and_in_time(atlas):
    approve_all(atlas, comment="A" * 1_000_000)
    started = time.monotonic()
    pdf = render_packet(atlas, now=timezone.now())
    assert time.monotonic() - started < 60
    assert len(pdf) < 2_000_000


def test_the_renderer_itself_fetches_nothing_even_from_unescaped_html(listener):
    """Defence in depth: were escaping ever bypassed, the URL fetcher still refuses."""
    html = f"<html><body><p>hello</p>{hostile(listener.port)}</body></html>"
    pdf = html_to_pdf(html)
    assert_nothing_leaked(pdf, listener)
    assert "hello" in pdf_text(pdf)


def test_a_long_unbroken_string_wraps_inside_the_page():
    """The packet's CSS (overflow-wrap: anywhere) keeps a 20,000-character word on the page."""
    from weasyprint import HTML

    html = render_html_with(f"<p>{'B' * 20_000}</p>")
    document = HTML(string=html, url_fetcher=PacketFetcher()).render()
    page = document.pages[0]
    text_boxes = [b for b in _boxes(page._page_box) if type(b).__name__ == "TextBox"]
    assert max(b.position_x + b.width for b in text_boxes) <= page.width


def render_html_with(body: str) -> str:
    """The packet template's <style> around `body` (a table cell, as user text sits in)."""
    from pathlib import Path

    from django.conf import settings

    template = Path(settings.BASE_DIR, "templates", "reports", "packet.html").read_text()
    style = template[template.index("<style>") : template.index("</style>") + 8]
    style = style.replace("{{ status }}", "INTERIM")
    cell = f"<table><tr><td style='width: 20%'>a</td><td>{body}</td></tr></table>"
    return f"<html><head>{style}</head><body>{cell}</body></html>"


def _boxes(box):
    yield box
    for child in getattr(box, "children", []):
        yield from _boxes(child)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://127.0.0.1:9/x.png",
        "https://example.com/a.css",
        "data:text/html,<script>1</script>",
        "data:image/png;base64,iVBORw0KGgo=",
    ],
)
def test_the_fetcher_refuses_every_url_it_was_not_given(url):
    with pytest.raises(RefusedURL):
        PacketFetcher().fetch(url)


def test_the_fetcher_serves_only_its_own_data_images():
    own = "data:image/png;base64,iVBORw0KGgo="
    response = PacketFetcher(allowed=frozenset({own})).fetch(own)
    assert response.read() == b"\x89PNG\r\n\x1a\n"
