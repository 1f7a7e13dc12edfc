"""The session's real Airflow stack (see tests/e2e_stack.py), shared with tests/scheduler."""

from __future__ import annotations

import pytest
from e2e_stack import E2EStack, get_stack, stop_after_last_e2e


@pytest.fixture(scope="session")
def e2e(request, pg, s3) -> E2EStack:
    return get_stack(request, pg, s3)


def pytest_runtest_teardown(item, nextitem):
    stop_after_last_e2e(item)
