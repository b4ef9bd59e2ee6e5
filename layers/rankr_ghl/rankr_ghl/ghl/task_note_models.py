"""GHL task and note payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AliasChoices, BeforeValidator, Field

from rankr_ghl.ghl.model_base import GHLDateTime, GHLModel, GHLRequest


class Task(GHLModel):
    """TaskSchema."""

    id: str | None = None
    title: str | None = None
    body: str | None = None
    assigned_to: str | None = None
    due_date: GHLDateTime | None = None
    completed: bool | None = None
    contact_id: str | None = None
    date_added: GHLDateTime | None = None
    date_updated: GHLDateTime | None = None


class TaskCreate(GHLRequest):
    """CreateTaskParams: ``completed`` is required by GHL."""

    title: str
    due_date: datetime
    completed: bool = False
    body: str | None = None
    assigned_to: str | None = None


class TaskUpdate(GHLRequest):
    """UpdateTaskBody."""

    title: str | None = None
    body: str | None = None
    due_date: datetime | None = None
    completed: bool | None = None
    assigned_to: str | None = None


class TasksResponse(GHLModel):
    """TasksListSuccessfulResponseDto."""

    tasks: list[Task] = Field(default_factory=list)


class TaskResponse(GHLModel):
    """TaskByIsSuccessfulResponseDto (sic)."""

    task: Task


class LocationTask(Task):
    """A task from POST /locations/{locationId}/tasks/search (spec schema is a loose ``[[{}]]``)."""

    id: str | None = Field(None, validation_alias=AliasChoices("id", "_id"), serialization_alias="id")
    location_id: str | None = None
    deleted: bool | None = None


def _flatten(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    flat: list[Any] = []
    for item in value:
        flat.extend(_flatten(item) if isinstance(item, list) else [item])
    return flat


class LocationTasksResponse(GHLModel):
    """LocationTaskListSuccessfulResponseDto; nested arrays (as the spec draws them) are flattened."""

    tasks: Annotated[list[LocationTask], BeforeValidator(_flatten)] = Field(default_factory=list)


class Note(GHLModel):
    """GetNoteSchema."""

    id: str | None = None
    body: str | None = None
    user_id: str | None = None
    date_added: GHLDateTime | None = None
    contact_id: str | None = None
    title: str | None = None
    color: str | None = None
    pinned: bool | None = None


class NoteCreate(GHLRequest):
    """NotesDTO."""

    body: str
    user_id: str | None = None
    title: str | None = None
    color: str | None = None
    pinned: bool | None = None


class NoteUpdate(GHLRequest):
    """UpdateNoteDTO."""

    body: str | None = None
    user_id: str | None = None
    title: str | None = None
    color: str | None = None
    pinned: bool | None = None


class NotesResponse(GHLModel):
    """GetNotesListSuccessfulResponseDto."""

    notes: list[Note] = Field(default_factory=list)


class NoteResponse(GHLModel):
    """GetCreateUpdateNoteSuccessfulResponseDto."""

    note: Note
