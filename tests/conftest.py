import copy

import pytest

from tests.helpers import MINIMAL_SPEC


@pytest.fixture
def spec() -> dict:
    """A fresh, valid launch spec as data."""
    return copy.deepcopy(MINIMAL_SPEC)
