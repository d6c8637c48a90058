"""Short human forms for durations and token counts (deterministic given a clock)."""

from __future__ import annotations


def ago(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    # coarse on purpose: an idle table then changes about once a minute, not every second
    s = max(0, int(seconds))
    if s < 10:
        return "now"
    if s < 60:
        return "<1m"
    if s < 3600:
        return f"{s // 60}m"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def tokens(n: int) -> str:
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.2f}M"


def one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(0, width - 1)] + "…"


def money(dollars: float) -> str:
    """US dollars, with cents shown to four places below a dollar."""
    return f"${dollars:.4f}" if dollars < 1 else f"${dollars:,.2f}"
