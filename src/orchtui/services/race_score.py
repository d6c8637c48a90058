"""How a race's entries are judged and ranked (playbook `race:`): an entry passes when
none of the stage's gates fails; a passing entry's score is the weighted sum of what its
gates read (`metrics` of command gates), its spend (`cost_usd`) and its time (`time_s`).
Ties go to the cheaper entry, then the quicker one. Pure: no store, no git."""

from __future__ import annotations

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


def rank(entries: Sequence[RaceEntry], metrics: Mapping[int, Mapping[str, float]]) -> list[RaceEntry]:
    """Passing entries, best first: the highest score, then the lowest cost, then the
    shortest time, then the lowest number. `metrics`: each entry's, by its number."""

    def key(entry: RaceEntry) -> tuple[float, float, float, int]:
        got = metrics.get(entry.number, {})
        return (-(entry.score or 0.0), got.get("cost_usd", 0.0), got.get("time_s", 0.0), entry.number)

    return sorted((e for e in entries if e.state == "passed"), key=key)
