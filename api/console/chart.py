"""The trend on a registration's page: a small SVG chart drawn on the server.

Records pushed (bars) and duration (line) of each of the last N syncs, oldest on the left,
failed syncs marked in red with a cross. No script, no inline style (the console's CSP
forbids both): colours come from classes in console.css.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from api.console.web import duration_of, fmt_duration, fmt_short

WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 52, 56, 14, 30


@dataclass(frozen=True)
class Trend:
    """What the chart shows, also said in words under it."""

    svg: Markup
    syncs: int
    records: int
    failed: int
    first_failure: str | None  # when the current run of failures started
    longest: str


def _nice(top: float) -> float:
    """A round axis maximum at or above `top` (1, 2, 5 × 10^n)."""
    if top <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(top))) - 1)
    for step in (1, 2, 5, 10):
        if top <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def _axis_duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _failure_streak_start(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """The start of the newest run of consecutive failed syncs (rows oldest first)."""
    start = None
    for row in reversed(rows):
        if row.get("status") == "failed":
            start = row.get("started_at")
        elif row.get("status") == "completed":
            break
    return None if start is None else fmt_short(start) + " UTC"


def trend(sessions: Sequence[Mapping[str, Any]], now: datetime | None = None) -> Trend:
    """`sessions`: newest first (as list_sessions returns them)."""
    rows = list(reversed(sessions))
    now = now or datetime.now(UTC)
    n = len(rows)
    records = [int(r.get("records_synced") or 0) for r in rows]
    durations = [duration_of(r, now) or 0.0 for r in rows]
    top_records = _nice(max(records, default=0))
    top_duration = _nice(max(durations, default=0.0) / 60.0) * 60.0
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / max(n, 1)
    bar_w = max(2.0, min(28.0, slot * 0.6))
    parts: list[str] = []
    # axes and gridlines
    for frac in (0.0, 0.5, 1.0):
        y = TOP + plot_h * (1 - frac)
        right = LEFT + plot_w
        parts.append(
            f'<line class="grid-line" x1="{LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="axis axis-left" x="{LEFT - 6}" y="{y + 4:.1f}">'
            f"{int(top_records * frac):,}</text>"
        )
        parts.append(
            f'<text class="axis axis-right" x="{LEFT + plot_w + 6}" y="{y + 4:.1f}">'
            f"{escape(_axis_duration(top_duration * frac))}</text>"
        )
    points: list[str] = []
    for i, row in enumerate(rows):
        cx = LEFT + slot * (i + 0.5)
        h = plot_h * records[i] / top_records
        status = str(row.get("status") or "")
        kind = "failed" if status == "failed" else ("running" if status == "in_progress" else "ok")
        when = fmt_short(row.get("started_at")) + " UTC"
        label = (
            f"{when} · {row.get('sync_type')} · {status.replace('_', ' ')} · "
            f"{records[i]:,} records · {fmt_duration(durations[i])}"
        )
        parts.append(
            f'<rect class="bar bar-{kind}" x="{cx - bar_w / 2:.1f}" y="{TOP + plot_h - h:.1f}" '
            f'width="{bar_w:.1f}" height="{max(h, 0.0):.1f}"><title>{escape(label)}</title></rect>'
        )
        dy = TOP + plot_h * (1 - durations[i] / top_duration)
        points.append(f"{cx:.1f},{dy:.1f}")
        if kind == "failed":
            y0 = TOP + plot_h + 4
            parts.append(
                f'<path class="fail-mark" d="M{cx - 5:.1f},{y0:.1f} l10,10 m0,-10 l-10,10">'
                f"<title>{escape('Failed: ' + label)}</title></path>"
            )
    if len(points) > 1:
        parts.append(f'<polyline class="duration-line" points="{" ".join(points)}"/>')
    for point in points:
        px, py = point.split(",")
        parts.append(f'<circle class="duration-dot" cx="{px}" cy="{py}" r="2.5"/>')
    if rows:
        first, last = rows[0].get("started_at"), rows[-1].get("started_at")
        parts.append(
            f'<text class="axis" x="{LEFT}" y="{HEIGHT - 4}">{escape(fmt_short(first))}</text>'
        )
        parts.append(
            f'<text class="axis axis-right-end" x="{LEFT + plot_w}" y="{HEIGHT - 4}">'
            f"{escape(fmt_short(last))}</text>"
        )
    failed = sum(1 for r in rows if r.get("status") == "failed")
    longest = fmt_duration(max(durations, default=0.0)) if rows else "—"
    summary = (
        f"Last {n} syncs, oldest on the left: {sum(records):,} records in all, "
        f"{failed} failed, longest took {longest}."
    )
    svg = Markup(
        f'<svg class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="trend-title trend-desc" preserveAspectRatio="xMidYMid meet">'
        f'<title id="trend-title">Records and duration per sync</title>'
        f'<desc id="trend-desc">{escape(summary)}</desc>{"".join(parts)}</svg>'
    )
    return Trend(
        svg=svg,
        syncs=n,
        records=sum(records),
        failed=failed,
        first_failure=_failure_streak_start(rows),
        longest=longest,
    )
