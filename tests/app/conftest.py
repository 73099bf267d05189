"""Fixtures of the browser tests (tests/app/*_browser.py): one system Chromium per module and a
watched page per test (tests/app/browser_support.py). A module serves the app itself with
``browser_support.serve`` under the configuration it needs."""
from __future__ import annotations

import pytest

from tests.app.browser_support import chromium, watched_page


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    with watched_page(browser) as pg:
        yield pg
