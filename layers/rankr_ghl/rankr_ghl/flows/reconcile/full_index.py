"""The full pass's compact index: what it needs to know about both sides without holding records.

- The contact mappings that existed when the pass began, as two parallel lists sorted by GHL id, and a
  bitmap over them: bit i is set once `mapped_ghl[i]` came back from GHL's search in this pass. The
  search may return contacts in any order (GHL documents no sort by id), so "not seen" is decided only
  after the whole pass, from the complete list. The bitmap (12.5 kB per 100,000 mappings, compressed
  in the cursor) makes the pass resumable across invocations.
- Rankr, reduced to id -> 8-byte digest of its canonical fields + a deleted flag, and the unmapped
  live Rankr contacts by e-mail, phone and id (to link a GHL contact instead of creating a twin).
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

LIVE = b"\x00"
DELETED = b"\x01"


@dataclass
class FullIndex:
    mapped_ghl: list[str] = field(default_factory=list)
    mapped_rankr: list[str] = field(default_factory=list)
    seen: bytearray = field(default_factory=bytearray)
    rankr: dict[str, bytes] = field(default_factory=dict)  # rankr id -> digest(8) + LIVE/DELETED
    unmapped_rankr: dict[str, None] = field(default_factory=dict)  # live, unmapped, not yet linked
    match_email: dict[str, str] = field(default_factory=dict)  # canonical e-mail -> unmapped rankr id
    match_phone: dict[str, str] = field(default_factory=dict)
    match_lead: dict[str, str] = field(default_factory=dict)  # lower(rankr id) -> rankr id

    @classmethod
    def over_mappings(cls, pairs: Iterable[tuple[str, str]]) -> FullIndex:
        ordered = sorted(pairs)
        index = cls([ghl_id for ghl_id, _ in ordered], [rankr_id for _, rankr_id in ordered])
        index.seen = bytearray((len(ordered) + 7) // 8)
        return index

    def fingerprint(self) -> str:
        """Identifies the mapping list the bitmap is laid over (a resumed pass must see the same)."""
        digest = hashlib.sha256()
        for ghl_id in self.mapped_ghl:
            digest.update(ghl_id.encode())
            digest.update(b"\x00")
        return digest.hexdigest()[:32]

    def position(self, ghl_id: str) -> int | None:
        at = bisect.bisect_left(self.mapped_ghl, ghl_id)
        if at < len(self.mapped_ghl) and self.mapped_ghl[at] == ghl_id:
            return at
        return None

    def rankr_for(self, ghl_id: str) -> str | None:
        at = self.position(ghl_id)
        return None if at is None else self.mapped_rankr[at]

    def mark_seen(self, ghl_id: str) -> None:
        at = self.position(ghl_id)
        if at is not None:
            self.seen[at >> 3] |= 1 << (at & 7)

    def was_seen(self, at: int) -> bool:
        return bool(self.seen[at >> 3] & (1 << (at & 7)))

    def unseen(self, start: int = 0) -> Iterator[int]:
        """Positions of the mappings the pass has not seen, from `start` on."""
        for at in range(start, len(self.mapped_ghl)):
            if not self.was_seen(at):
                yield at

    def unseen_count(self) -> int:
        seen = sum(bin(byte).count("1") for byte in self.seen)
        return len(self.mapped_ghl) - seen

    def rankr_live(self, rankr_id: str) -> bool | None:
        """True/False from the Rankr list; None when the list did not contain it."""
        entry = self.rankr.get(rankr_id)
        return None if entry is None else entry[-1:] == LIVE

    def seen_state(self) -> str:
        return base64.b64encode(zlib.compress(bytes(self.seen))).decode()

    def restore_seen(self, state: str) -> bool:
        """Lay a checkpointed bitmap over the list; False (nothing restored) when it does not fit."""
        try:
            restored = zlib.decompress(base64.b64decode(state))
        except (ValueError, zlib.error):
            return False
        if len(restored) != len(self.seen):
            return False
        self.seen = bytearray(restored)
        return True

    def claim(self, rankr_id: str) -> None:
        self.unmapped_rankr.pop(rankr_id, None)
        for by_value in (self.match_email, self.match_phone):
            for value in [value for value, owner in by_value.items() if owner == rankr_id]:
                del by_value[value]
        self.match_lead.pop(rankr_id.lower(), None)
