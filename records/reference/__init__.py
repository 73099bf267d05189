"""Reference data: regions, categories, offices and units, the working-day calendar and the
letterhead (see ``records.reference.models``)."""
from __future__ import annotations


def require_manager(by) -> None:
    """Changing reference data is the administrator's (``policy.MANAGE_REFERENCE``); ``by`` None
    is the operator at the console (``xinfang`` CLI, ``init``), who owns the instance."""
    if by is None:
        return
    from records import policy

    policy.require(by, policy.MANAGE_REFERENCE)
