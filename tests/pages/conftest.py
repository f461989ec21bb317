"""The launch pages' tests: Atlas and its program manager (tests/launch_fixtures.py)."""

from tests.launch_fixtures import launch, pm  # noqa: F401 - fixtures
