"""An idle worker looks for work less and less often; work or a wake-up brings it back."""

from __future__ import annotations

from bot.polling import IDLE_CEILING, IdleWait


def test_each_empty_look_doubles_the_wait_up_to_the_ceiling() -> None:
    idle = IdleWait(0.5)
    waits = [idle.next() for _ in range(8)]
    assert waits == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0]
    assert max(waits) == 0.5 * IDLE_CEILING


def test_work_or_a_wake_up_brings_the_wait_back_to_the_interval() -> None:
    idle = IdleWait(0.5)
    for _ in range(5):
        idle.next()
    idle.reset()
    assert idle.next() == 0.5
