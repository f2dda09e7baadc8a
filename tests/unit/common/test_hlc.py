"""The hybrid-logical clock hands out unique, growing timestamps that follow the wall clock."""

import threading

from services.common.hlc import HLC, wall_us


def test_follows_wall_clock():
    """now() is close to the wall clock in microseconds since the epoch."""
    ts = HLC().now()
    assert abs(ts - wall_us()) < 1_000_000


def test_strictly_monotonic_when_clock_stalls_or_steps_back():
    """A stalled or backwards clock still yields strictly increasing timestamps."""
    t = [1000]
    c = HLC(clock=lambda: t[0])
    a = c.now()
    b = c.now()
    t[0] = 500
    d = c.now()
    assert a == 1000 and b == 1001 and d == 1002
    t[0] = 5000
    assert c.now() == 5000


def test_update_moves_clock_past_observed():
    """After update(x), every new timestamp exceeds x; update never moves the clock back."""
    c = HLC(clock=lambda: 10)
    assert c.update(100) == 100
    assert c.now() == 101
    assert c.update(50) == 101
    assert c.now() == 102
    assert c.peek() == 102


def test_unique_across_threads():
    """Concurrent callers never get the same timestamp."""
    c = HLC()
    out = []
    lock = threading.Lock()

    def work():
        mine = [c.now() for _ in range(5000)]
        assert mine == sorted(mine)
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(set(out)) == len(out) == 20000
