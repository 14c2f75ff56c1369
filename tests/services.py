"""What a test does when a service it needs (PostgreSQL, moto, chromium) is missing.

On a developer's machine it is skipped with the reason. In CI (``.ci/run`` exports
``MOCO_REQUIRE_SERVICES=1``) every such service is required: a missing one is a test *error*, so a
run can never be green while the production path went untested.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_ENV = "MOCO_REQUIRE_SERVICES"


def services_required() -> bool:
    """True when the environment says every service must be there (read at call time)."""
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes")


def service_missing(message: str) -> NoReturn:
    """Fail (services required) or skip (a developer without the service) with ``message``."""
    if services_required():
        pytest.fail(f"{message} ({REQUIRE_ENV}=1: a required service is an error, not a skip)", pytrace=False)
    pytest.skip(message)
