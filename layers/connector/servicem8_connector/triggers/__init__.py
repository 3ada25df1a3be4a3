"""From a ServiceM8 webhook delivery to the trigger occurrences it stands for.

The processor's path through this package, per delivery:

1. :func:`parse_delivery` sorts the body into an event, object or add-on delivery;
2. for each record (fetched back for object deliveries), :func:`classify` compares it
   with the :class:`SnapshotStore` snapshot and lists what fired;
3. each occurrence is claimed in the :class:`DedupeStore` before it is published, and
   the record's :func:`snapshot_of` is stored for next time.
"""

from __future__ import annotations

from servicem8_connector.triggers.classify import (
    PASSTHROUGH_PREFIX,
    SERVICEM8_EVENTS,
    FieldChange,
    Occurrence,
    Trigger,
    announcements,
    classify,
    detail_type_for,
    object_for_event,
)
from servicem8_connector.triggers.deliveries import (
    AddonDelivery,
    Delivery,
    Entry,
    EventDelivery,
    ObjectDelivery,
    Unrecognised,
    parse_delivery,
)
from servicem8_connector.triggers.records import is_active, normalise_record, snapshot_of
from servicem8_connector.triggers.state import DedupeStore, SnapshotStore, StateUnavailable

__all__ = [
    "PASSTHROUGH_PREFIX",
    "SERVICEM8_EVENTS",
    "AddonDelivery",
    "DedupeStore",
    "Delivery",
    "Entry",
    "EventDelivery",
    "FieldChange",
    "ObjectDelivery",
    "Occurrence",
    "SnapshotStore",
    "StateUnavailable",
    "Trigger",
    "Unrecognised",
    "announcements",
    "classify",
    "detail_type_for",
    "is_active",
    "normalise_record",
    "object_for_event",
    "parse_delivery",
    "snapshot_of",
]
