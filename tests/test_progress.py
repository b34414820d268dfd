"""The CLI's progress text (nnlect.commands._progress): ETAs that a log file can keep."""

import time

from nnlect.commands import _progress


def test_eta_formats_hours_minutes_seconds():
    assert _progress.eta(42.4) == "42s"
    assert _progress.eta(185) == "3m05s"
    assert _progress.eta(3720) == "1h02m"
    assert _progress.eta(-3) == "0s"


def test_run_eta_extrapolates_steps_and_is_capped_by_the_budget():
    started = time.perf_counter() - 10.0  # 10 s for steps 100 -> 200
    by_steps = _progress.run_eta(started, 100, 200, 500)  # 300 steps left at 10 s per 100
    assert by_steps in (", ETA 30s", ", ETA 31s")
    assert _progress.run_eta(started, 100, 200, 500, time_budget=15.0) in (", ETA 5s", ", ETA 4s")
    assert _progress.run_eta(started, 100, 200, 2**31 - 1, time_budget=40.0) in (", ETA 30s", ", ETA 29s")
    assert _progress.run_eta(started, 100, 100, 500) == ""  # nothing done yet: no estimate
    assert _progress.run_eta(started, 100, 500, 500) == ", ETA 0s"
