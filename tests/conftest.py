from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The unit tests first (pytest would collect e2e/ before unit/): a broken build fails
    # in two minutes, not after the lab's twenty, and meanwhile .ci/run builds the lab's
    # cache in the background. A stable sort: the e2e conftest's order stays as it is.
    items.sort(key=lambda item: "e2e" in item.path.parts)
