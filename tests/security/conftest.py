"""An app with the production sign-in rules (second factor for leaders and the chief)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def strict_app(settings):
    from app import create_app

    application = create_app({"XINFANG_SETTINGS": settings, "TESTING": True, "SECRET_KEY": "test-only-secret",
                              "WTF_CSRF_ENABLED": False})
    yield application
    application.extensions["xinfang"].close()
