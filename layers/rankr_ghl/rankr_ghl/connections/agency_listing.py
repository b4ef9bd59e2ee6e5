"""The agency fan-out's listing: installed locations, read page by page, checked against their records.

A thread of its own pages GHL's installedLocations and, for every `batch` locations listed, reads
their connection records (one consistent batch read) and hands the ones still to connect to the
fan-out. Minting starts after the first page instead of after the last one, and a run resumed after
a crash spends the listing of the locations connected before it while it already mints the rest.
A batch listed while the fan-out has one waiting already goes to `overflow` instead (the fan-out
queues it for another container), so the listing never waits for this container's minting.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

from rankr_ghl.ghl.errors import GHLUnauthorized

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rankr_ghl.connections.ports import RecordState

# A listing that stops (the run ended) is waited for this long: one GHL page at most.
STOP_WAIT_S = 5.0


class RecordReader(Protocol):
    def record_states(self, connection_ids: Iterable[str]) -> dict[str, RecordState]: ...


class ListedBatch:
    """Locations listed together: their records as they stood, and the ones still to connect."""

    def __init__(self, existing: dict[str, RecordState], todo: list[str], connected_before: int) -> None:
        self.existing = existing
        self.todo = todo
        self.connected_before = connected_before


class _End:
    """The listing is complete."""


class AgencyListing:
    """Lists on its own thread; `batches()` yields what it found, in order, and raises what it raised.

    `pages(token)` iterates the installed location ids with a company token; a refused token is
    renewed once through `renew(token)` and the listing starts again (ids already handed out are not
    handed out twice). `is_connected(record)`: the location is left alone. `overflow(batch)` (on the
    listing's thread) takes a batch with locations to connect listed while another waits; what it
    raises ends the listing like a GHL failure."""

    def __init__(
        self,
        pages: Callable[[str], Iterator[str]],
        renew: Callable[[str], str | None],
        records: RecordReader,
        is_connected: Callable[[RecordState | None], bool],
        *,
        token: str,
        batch: int,
        overflow: Callable[[ListedBatch], None] | None = None,
    ) -> None:
        self._pages = pages
        self._overflow = overflow
        self._renew = renew
        self._records = records
        self._is_connected = is_connected
        self._token = token
        self._batch = batch
        self._found: queue.Queue[ListedBatch | BaseException | _End] = queue.Queue()
        self._stop = threading.Event()
        self._progress = threading.Condition()
        self._ended = False  # complete, failed or stopped
        self.listed = 0
        self.complete = False
        self._thread = threading.Thread(target=self._run, name="agency-listing", daemon=True)

    def start(self) -> AgencyListing:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(STOP_WAIT_S)

    def wait_listed(self, count: int, timeout_s: float) -> None:
        """Return once `count` locations are listed, the listing ended, or `timeout_s` passed."""
        with self._progress:
            self._progress.wait_for(lambda: self._ended or self.listed >= count, timeout_s)

    def batches(self) -> Iterator[ListedBatch]:
        while True:
            item = self._found.get()
            if isinstance(item, _End):
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _run(self) -> None:
        try:
            self._list()
        except BaseException as exc:  # handed to the fan-out's thread, which raises it
            self._found.put(exc)
            return
        finally:
            with self._progress:
                self._ended = True
                self._progress.notify_all()
        self._found.put(_End())

    def _list(self) -> None:
        seen: set[str] = set()
        pending: list[str] = []
        token = self._token
        renewed = False
        while True:
            try:
                for location_id in self._pages(token):
                    if self._stop.is_set():
                        return
                    if location_id in seen:
                        continue
                    seen.add(location_id)
                    pending.append(location_id)
                    if len(pending) >= self._batch:
                        self._hand_out(pending)
                        pending = []
                break
            except GHLUnauthorized:
                fresh = None if renewed else self._renew(token)
                if fresh is None:
                    raise
                renewed, token = True, fresh
        if pending:
            self._hand_out(pending)
        self.complete = True

    def _hand_out(self, location_ids: list[str]) -> None:
        existing = self._records.record_states(location_ids)
        todo = [i for i in location_ids if not self._is_connected(existing.get(i))]
        with self._progress:
            self.listed += len(location_ids)
            self._progress.notify_all()
        listed = ListedBatch(existing, todo, len(location_ids) - len(todo))
        if todo and self._overflow is not None and not self._found.empty():
            self._overflow(listed)
        else:
            self._found.put(listed)
