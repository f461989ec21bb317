"""The end-to-end tests' data; the browser fixtures are in tests/browser.py (shared)."""

import pytest


@pytest.fixture
def demo(transactional_db, settings):
    """The demo launch, its stakeholders (password `launch-demo`) and its demo readings."""
    from apps.demo.loader import load_demo
    from apps.launches.models import Launch

    settings.DEBUG = True  # the demo loader refuses to run otherwise
    load_demo()
    return Launch.objects.get(slug="llm-research-lab")
