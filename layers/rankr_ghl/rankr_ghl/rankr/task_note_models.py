"""Rankr tasks and notes (docs/rankr-api.yaml): the writes, the records and their pages."""

from __future__ import annotations

from pydantic import Field

from rankr_ghl.rankr.model_base import RankrRecord, RankrRequest, RankrResponse, Timestamp


class TaskCreate(RankrRequest):
    title: str = Field(min_length=1, max_length=500)
    body: str | None = Field(default=None, max_length=50000)
    due_date: Timestamp | None = None
    completed: bool = False
    assignee: str | None = Field(default=None, max_length=255)


class TaskUpdate(RankrRequest):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    body: str | None = Field(default=None, max_length=50000)
    due_date: Timestamp | None = None
    completed: bool | None = None
    assignee: str | None = Field(default=None, max_length=255)


class Task(RankrRecord):
    id: str
    contact_id: str
    title: str
    body: str | None = None
    due_date: Timestamp | None = None
    completed: bool = False
    assignee: str | None = None


class NoteCreate(RankrRequest):
    body: str = Field(min_length=1, max_length=50000)
    title: str | None = Field(default=None, max_length=500)


class NoteUpdate(RankrRequest):
    body: str | None = Field(default=None, min_length=1, max_length=50000)
    title: str | None = Field(default=None, max_length=500)


class Note(RankrRecord):
    id: str
    contact_id: str
    title: str | None = None
    body: str


class TaskPage(RankrResponse):
    items: list[Task]
    next_cursor: str | None = None


class NotePage(RankrResponse):
    items: list[Note]
    next_cursor: str | None = None
