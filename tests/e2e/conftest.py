"""The session's real Airflow stack (see tests/e2e_stack.py), shared with tests/browser."""

from __future__ import annotations

import pytest
from e2e_stack import E2EStack, get_stack, move_e2e_last, stop_after_last_e2e


@pytest.fixture(scope="session")
def e2e(request, pg, s3) -> E2EStack:
    return get_stack(request, pg, s3)


def pytest_runtest_teardown(item, nextitem):
    stop_after_last_e2e(item)


def pytest_collection_modifyitems(session, config, items):
    # runs for the whole session (collection hooks are not directory-scoped): the e2e tests go last
    move_e2e_last(items)
