"""The session's real Airflow stack (see tests/e2e_stack.py), shared with tests/scheduler."""

from __future__ import annotations

import pytest
from e2e_stack import E2EStack, get_stack


@pytest.fixture(scope="session")
def e2e(request, pg, s3) -> E2EStack:
    return get_stack(request, pg, s3)
