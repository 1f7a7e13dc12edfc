"""The session's real Airflow stack (see tests/e2e_stack.py), shared with tests/browser."""

from __future__ import annotations

import os
import shutil

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


CHROMIUM = os.environ.get("BACKFILL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, driven by Playwright (no browser is downloaded)."""
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (make system-deps does it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
