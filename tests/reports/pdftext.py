"""PDF text for assertions: pypdf when installed, else poppler's pdftotext."""

import io
import re
import shutil
import subprocess


def pdf_pages(pdf: bytes) -> list[str]:
    """The text of each page."""
    try:
        import pypdf
    except ImportError:
        if not shutil.which("pdftotext"):
            raise RuntimeError("install pypdf (PyPI) or poppler-utils (Debian)") from None
        out = subprocess.run(
            ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True, timeout=60
        )
        return out.stdout.decode().split("\f")[:-1]
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def pdf_text(pdf: bytes) -> str:
    """All pages' text with whitespace runs collapsed to one space (so wrapped names match)."""
    return re.sub(r"\s+", " ", " ".join(pdf_pages(pdf)))
