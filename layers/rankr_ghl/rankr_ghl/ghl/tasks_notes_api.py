"""GHL task and note endpoints, per contact and (tasks) across a location."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from rankr_ghl.ghl.client_base import GhlClientBase
from rankr_ghl.ghl.responses import Replay

if TYPE_CHECKING:
    from rankr_ghl.ghl.task_note_models import (
        LocationTask,
        Note,
        NoteCreate,
        NoteUpdate,
        Task,
        TaskCreate,
        TaskUpdate,
    )


class TasksNotesApi(GhlClientBase):
    """Tasks and notes of a contact, and the location-wide task search."""

    # ---- tasks -----------------------------------------------------------------------------

    def list_tasks(self, location_id: str, contact_id: str) -> list[Task]:
        """GET /contacts/{contactId}/tasks."""
        from rankr_ghl.ghl.task_note_models import TasksResponse

        return self._call(
            TasksResponse,
            "GET",
            "/contacts/{contactId}/tasks",
            location_id,
            path_params={"contactId": contact_id},
        ).tasks

    def get_task(self, location_id: str, contact_id: str, task_id: str) -> Task:
        """GET /contacts/{contactId}/tasks/{taskId}."""
        from rankr_ghl.ghl.task_note_models import TaskResponse

        return self._call(
            TaskResponse,
            "GET",
            "/contacts/{contactId}/tasks/{taskId}",
            location_id,
            path_params={"contactId": contact_id, "taskId": task_id},
        ).task

    def create_task(self, location_id: str, contact_id: str, task: TaskCreate) -> Task:
        """POST /contacts/{contactId}/tasks (201); never repeated once it may have reached GHL."""
        from rankr_ghl.ghl.task_note_models import TaskResponse

        return self._call(
            TaskResponse,
            "POST",
            "/contacts/{contactId}/tasks",
            location_id,
            path_params={"contactId": contact_id},
            replay=Replay.NEVER,
            json_body=task.to_api(),
        ).task

    def update_task(self, location_id: str, contact_id: str, task_id: str, changes: TaskUpdate) -> Task:
        """PUT /contacts/{contactId}/tasks/{taskId}."""
        from rankr_ghl.ghl.task_note_models import TaskResponse

        return self._call(
            TaskResponse,
            "PUT",
            "/contacts/{contactId}/tasks/{taskId}",
            location_id,
            path_params={"contactId": contact_id, "taskId": task_id},
            json_body=changes.to_api(),
        ).task

    def set_task_completed(self, location_id: str, contact_id: str, task_id: str, completed: bool) -> Task:
        """PUT /contacts/{contactId}/tasks/{taskId}/completed."""
        from rankr_ghl.ghl.task_note_models import TaskResponse

        return self._call(
            TaskResponse,
            "PUT",
            "/contacts/{contactId}/tasks/{taskId}/completed",
            location_id,
            path_params={"contactId": contact_id, "taskId": task_id},
            json_body={"completed": completed},
        ).task

    def delete_task(self, location_id: str, contact_id: str, task_id: str) -> bool:
        """DELETE /contacts/{contactId}/tasks/{taskId}; returns ``succeded``."""
        from rankr_ghl.ghl.contact_write_models import SucceededResponse

        result = self._call(
            SucceededResponse,
            "DELETE",
            "/contacts/{contactId}/tasks/{taskId}",
            location_id,
            path_params={"contactId": contact_id, "taskId": task_id},
        )
        return bool(result.succeeded)

    def search_location_tasks(
        self,
        location_id: str,
        *,
        contact_ids: Sequence[str] | None = None,
        completed: bool | None = None,
        assigned_to: Sequence[str] | None = None,
        query: str | None = None,
        limit: int = 25,
        skip: int = 0,
        business_id: str | None = None,
    ) -> list[LocationTask]:
        """POST /locations/{locationId}/tasks/search (read-only, so retried like a GET)."""
        body: dict[str, Any] = {"limit": limit, "skip": skip}
        if contact_ids is not None:
            body["contactId"] = list(contact_ids)
        if completed is not None:
            body["completed"] = completed
        if assigned_to is not None:
            body["assignedTo"] = list(assigned_to)
        if query:
            body["query"] = query
        if business_id:
            body["businessId"] = business_id
        from rankr_ghl.ghl.task_note_models import LocationTasksResponse

        return self._call(
            LocationTasksResponse,
            "POST",
            "/locations/{locationId}/tasks/search",
            location_id,
            path_params={"locationId": location_id},
            json_body=body,
        ).tasks

    def iter_location_tasks(
        self,
        location_id: str,
        *,
        page_size: int = 100,
        contact_ids: Sequence[str] | None = None,
        completed: bool | None = None,
        assigned_to: Sequence[str] | None = None,
        query: str | None = None,
    ) -> Iterator[LocationTask]:
        """Every task of the location matching the filters, paged with skip/limit."""
        skip = 0
        while True:
            page = self.search_location_tasks(
                location_id,
                contact_ids=contact_ids,
                completed=completed,
                assigned_to=assigned_to,
                query=query,
                limit=page_size,
                skip=skip,
            )
            yield from page
            if len(page) < page_size:
                return
            skip += len(page)

    # ---- notes -----------------------------------------------------------------------------

    def list_notes(self, location_id: str, contact_id: str) -> list[Note]:
        """GET /contacts/{contactId}/notes."""
        from rankr_ghl.ghl.task_note_models import NotesResponse

        return self._call(
            NotesResponse,
            "GET",
            "/contacts/{contactId}/notes",
            location_id,
            path_params={"contactId": contact_id},
        ).notes

    def get_note(self, location_id: str, contact_id: str, note_id: str) -> Note:
        """GET /contacts/{contactId}/notes/{id}."""
        from rankr_ghl.ghl.task_note_models import NoteResponse

        return self._call(
            NoteResponse,
            "GET",
            "/contacts/{contactId}/notes/{id}",
            location_id,
            path_params={"contactId": contact_id, "id": note_id},
        ).note

    def create_note(self, location_id: str, contact_id: str, note: NoteCreate) -> Note:
        """POST /contacts/{contactId}/notes (201); never repeated once it may have reached GHL."""
        from rankr_ghl.ghl.task_note_models import NoteResponse

        return self._call(
            NoteResponse,
            "POST",
            "/contacts/{contactId}/notes",
            location_id,
            path_params={"contactId": contact_id},
            replay=Replay.NEVER,
            json_body=note.to_api(),
        ).note

    def update_note(self, location_id: str, contact_id: str, note_id: str, changes: NoteUpdate) -> Note:
        """PUT /contacts/{contactId}/notes/{id}."""
        from rankr_ghl.ghl.task_note_models import NoteResponse

        return self._call(
            NoteResponse,
            "PUT",
            "/contacts/{contactId}/notes/{id}",
            location_id,
            path_params={"contactId": contact_id, "id": note_id},
            json_body=changes.to_api(),
        ).note

    def delete_note(self, location_id: str, contact_id: str, note_id: str) -> bool:
        """DELETE /contacts/{contactId}/notes/{id}; returns ``succeded``."""
        from rankr_ghl.ghl.contact_write_models import SucceededResponse

        result = self._call(
            SucceededResponse,
            "DELETE",
            "/contacts/{contactId}/notes/{id}",
            location_id,
            path_params={"contactId": contact_id, "id": note_id},
        )
        return bool(result.succeeded)
