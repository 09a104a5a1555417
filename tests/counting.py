"""A real FileStore that counts the calls the engine makes: for cost-bound tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from langgraph_persist.keys import Key
from langgraph_persist.store.files import FileStore


class CountingFileStore(FileStore):
    """FileStore plus call counters (reads by record kind, listings)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.calls: Counter[str] = Counter()
        self.read_keys: list[Key] = []

    def reset(self) -> None:
        self.calls.clear()
        self.read_keys.clear()

    def read(self, key: Key) -> bytes | None:
        self.calls["read"] += 1
        self.read_keys.append(key)
        return super().read(key)

    def read_many(self, keys: Sequence[Key]) -> list[bytes | None]:
        self.calls["read_many"] += 1
        self.read_keys.extend(keys)
        return [super(CountingFileStore, self).read(k) for k in keys]

    def list(self, prefix: Key) -> list[str]:
        self.calls["list"] += 1
        return super().list(prefix)

    def records_read(self, kind_dir: str) -> int:
        """How many keys under a layout directory ('c' checkpoints, 'w' writes) were read."""
        return sum(1 for k in self.read_keys if len(k) > 4 and k[4] == kind_dir)
