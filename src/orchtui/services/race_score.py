"""How a race's entries are judged and ranked (playbook `race:`): an entry passes when
none of the stage's gates fails; a passing entry's score is the weighted sum of what its
gates read (`metrics` of command gates), its spend (`cost_usd`) and its time (`time_s`).
Ties go to the cheaper entry, then the quicker one. Pure: no store, no git."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from orchtui.services.gates import GateOutcome
from orchtui.store.tables import RaceEntry


@dataclass(frozen=True)
class Judged:
    passed: bool
    score: float | None  # None: it did not pass
    metrics: dict[str, float]
    why: str  # one line: what failed, or what it scored


def judge(
    outcomes: Sequence[GateOutcome], weights: Mapping[str, float], cost_usd: float, time_s: float
) -> Judged:
    failed = [o for o in outcomes if o.state in ("fail", "pending")]  # unresolved counts as failed
    metrics = {name: float(value) for o in outcomes for name, value in o.metrics.items()}
    metrics |= {"cost_usd": round(cost_usd, 6), "time_s": round(time_s, 3)}
    if failed:
        return Judged(False, None, metrics, "; ".join(o.why for o in failed))
    score = sum(weights.get(name, 0.0) * value for name, value in metrics.items())
    passed = sum(1 for o in outcomes if o.state == "pass")
    return Judged(True, round(score, 6), metrics, f"{passed}/{len(outcomes)} gates passed, score {score:g}")


def metrics_of(entry: RaceEntry) -> dict[str, float]:
    """What an entry's judging recorded: its gates' metrics, `cost_usd` and `time_s`."""
    return {name: float(value) for name, value in json.loads(entry.metrics or "{}").items()}


def rank(entries: Sequence[RaceEntry]) -> list[RaceEntry]:
    """Passing entries, best first: the highest score, then the lowest cost, then the
    shortest time, then the lowest number."""

    def key(entry: RaceEntry) -> tuple[float, float, float, int]:
        got = metrics_of(entry)
        return (-(entry.score or 0.0), got.get("cost_usd", 0.0), got.get("time_s", 0.0), entry.number)

    return sorted((e for e in entries if e.state == "passed"), key=key)
