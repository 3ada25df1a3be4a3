"""The stack's knowledge of one resource, shared by provisioning and the stack facade."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Record:
    """What the stack knows about one resource: its ``Ref`` value and ``GetAtt`` attributes."""

    logical_id: str
    type: str
    physical_id: Any
    attributes: dict[str, Any] = field(default_factory=dict)
    emulated: bool = True
