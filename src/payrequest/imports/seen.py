"""Which external ids a file has had already, without keeping the ids: a file of a hundred
thousand rows holds a hash of each (some 50 bytes apiece), not its text."""

from __future__ import annotations


class Seen:
    def __init__(self) -> None:
        self._hashes: set[int] = set()

    def again(self, external_id: str) -> bool:
        """Whether `external_id` came before; remembers it."""
        key = hash(external_id)
        if key in self._hashes:
            return True
        self._hashes.add(key)
        return False
