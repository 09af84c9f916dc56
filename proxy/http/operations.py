"""Every operation a declared route may name (`Route.op`), by name: the generic ones, and those
of families that need more than a record's show/list/create/update/delete."""

from __future__ import annotations

from ..resources import check_operations
from .handlers import CORE_OPERATIONS, Operation
from .links import LINK_OPERATIONS
from .subrecords import SUBRECORD_OPERATIONS

OPERATIONS: dict[str, Operation] = {**CORE_OPERATIONS, **LINK_OPERATIONS, **SUBRECORD_OPERATIONS}

check_operations(set(OPERATIONS))
