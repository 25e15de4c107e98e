"""The views and their names."""

from projections.views.audit import AuditView
from projections.views.base import View
from projections.views.lifecycle import LifecycleView
from projections.views.receipts import ReceiptsView
from projections.views.registrations import RegistrationsView
from projections.views.sessions import SessionsView

VIEW_TYPES: dict[str, type[View]] = {
    v.name: v for v in (RegistrationsView, SessionsView, ReceiptsView, AuditView, LifecycleView)
}

__all__ = [
    "VIEW_TYPES",
    "AuditView",
    "LifecycleView",
    "ReceiptsView",
    "RegistrationsView",
    "SessionsView",
    "View",
]
