"""How long each row may run: the full bench, or CI's smoke run."""

from __future__ import annotations

import attrs


@attrs.frozen
class Plan:
    """``smoke``: run every path once, briefly, so the bench cannot rot (figures mean little)."""

    smoke: bool = False

    def seconds(self, full: float, smoke: float = 1.0) -> float:
        return smoke if self.smoke else full

    def count(self, full: int, smoke: int = 1) -> int:
        return smoke if self.smoke else full
