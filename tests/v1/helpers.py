"""Helpers for the v1 document-layer tests."""

from __future__ import annotations

import pytest

from proxy.v1.documents import DocumentError

FULL_TASK = {
    "id": "100",
    "description": "Meet with customer",
    "detail": "Meeting at Coffee shop",
    "category": "Meeting",
    "dueDate": "2012-02-24T00:00:00Z",
    "dueDateTime": "2012-02-24T15:00:00Z",
    "owner": "a.user",
    "partyId": "1",
    "partyName": "Eric Jones",
    "opportunityId": "2",
    "opportunityName": "CRM System",
    "caseId": "3",
    "caseName": "Invoicing",
    "status": "OPEN",
    "createdOn": "2015-11-30T10:15:10Z",
    "updatedOn": "2015-11-30T10:29:14Z",
    "completedOn": "2015-12-01T09:00:00Z",
}


def task_xml(fields: dict[str, str] | list[tuple[str, str]], root: str = "task",
             declaration: bool = False) -> bytes:
    """A <task> document with the given children (values are inserted verbatim)."""
    items = fields.items() if isinstance(fields, dict) else fields
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in items)
    head = '<?xml version="1.0" encoding="UTF-8"?>' if declaration else ""
    return f"{head}<{root}>{inner}</{root}>".encode()


def rejects(call, *args, status: int = 400, **kwargs) -> str:
    """Assert that ``call`` raises DocumentError with ``status``; return its message."""
    with pytest.raises(DocumentError) as caught:
        call(*args, **kwargs)
    assert caught.value.status == status, caught.value
    assert isinstance(caught.value.message, str) and caught.value.message
    return caught.value.message
