"""The view runner turns a stream of saves into one page per MIN_STEP_INTERVAL (issue 16).

A page costs a few statements and a commit whatever it carries, so a page per save made the
views cost more than the write. The pause is computed from an injected clock: no sleeping."""

from __future__ import annotations

from projections.runner import MIN_STEP_INTERVAL, Runner


def _runner(now: list[float], pauses: list[float]) -> Runner:
    runner = Runner("sqlite", step=lambda: 0, listen=lambda: None, clock=lambda: now[0])

    def wait(timeout: float | None = None) -> bool:
        pauses.append(float(timeout or 0.0))
        now[0] += float(timeout or 0.0)
        return False

    runner.stopping.wait = wait  # type: ignore[method-assign]
    return runner


def test_a_save_right_after_a_page_waits_out_the_interval() -> None:
    now, pauses = [100.0], []
    runner = _runner(now, pauses)
    now[0] = 100.001  # a save 1 ms after the last page began
    runner._coalesce(last_step=100.0)
    assert len(pauses) == 1 and abs(pauses[0] - (MIN_STEP_INTERVAL - 0.001)) < 1e-9


def test_a_save_after_a_quiet_spell_is_processed_at_once() -> None:
    now, pauses = [100.0], []
    runner = _runner(now, pauses)
    now[0] = 100.0 + MIN_STEP_INTERVAL * 3
    runner._coalesce(last_step=100.0)
    assert pauses == []


def test_a_stream_of_saves_shares_pages() -> None:
    """Drive the pull loop by hand: 50 saves 1 ms apart make at most one page per interval."""
    now = [0.0]
    steps: list[float] = []
    runner = Runner(
        "sqlite", step=lambda: steps.append(now[0]) or 0, listen=lambda: None, clock=lambda: now[0]
    )
    saves = [i * 0.001 for i in range(50)]

    def wake_wait(timeout: float | None = None) -> bool:
        pending = [t for t in saves if t > (steps[-1] if steps else -1)]
        if not pending:
            runner.stopping.set()
            return False
        now[0] = max(now[0], pending[0])
        return True

    def pause(timeout: float | None = None) -> bool:
        now[0] += float(timeout or 0.0)
        return runner.stopping.is_set()

    runner.wake.wait = wake_wait  # type: ignore[method-assign]
    runner.stopping.wait = pause  # type: ignore[method-assign]
    runner._pull_loop()
    assert steps, "the loop made no page"
    gaps = [b - a for a, b in zip(steps, steps[1:], strict=False)]
    assert all(g >= MIN_STEP_INTERVAL - 1e-9 for g in gaps)
    assert len(steps) <= 50 * 0.001 / MIN_STEP_INTERVAL + 2
