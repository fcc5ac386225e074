"""Which inbox paths the daemon currently holds.

The watcher must not take a path again while an earlier file at that path is
still on its way through the pipeline; the stage that moves the file out of the
inbox (or drops it from a batch) releases the path.
"""

from __future__ import annotations

from collections.abc import Iterable

InboxKey = tuple[str, str]  # (tenant, rel_path with "/" separators)


class Claims:
    """A set of held (tenant, rel_path) keys, loaded from the journal at start."""

    def __init__(self, held: Iterable[InboxKey] = ()) -> None:
        self._held: set[InboxKey] = set(held)

    def claim(self, key: InboxKey) -> None:
        self._held.add(key)

    def release(self, key: InboxKey) -> None:
        self._held.discard(key)

    def __contains__(self, key: object) -> bool:
        return key in self._held

    def __len__(self) -> int:
        return len(self._held)
