"""The adjudicator: first committer wins, timestamps grow, old history may be forgotten."""

from types import SimpleNamespace as NS

from services.common.hlc import HLC
from services.journal.adjudicator import Adjudicator

HISTORY_US = 300 * 1_000_000


def make(now):
    clock = lambda: now[0]
    return Adjudicator(HLC(clock=clock), HISTORY_US, clock=clock), now


def test_first_committer_wins():
    """Two transactions from the same snapshot writing one key: the second loses."""
    adj, now = make([10_000_000_000])
    start = adj.hlc.now()
    ts1, c1 = adj.decide(start, (b"a",))
    assert c1 is None and ts1 > start
    ts2, c2 = adj.decide(start, (b"b", b"a"))
    assert (ts2, c2) == (0, b"a")
    # A transaction that started after the first commit does not conflict.
    ts3, c3 = adj.decide(adj.hlc.now(), (b"a",))
    assert c3 is None and ts3 > ts1


def test_commit_ts_above_start_and_all_earlier():
    """commit_ts > start_ts (even a start_ts from a clock running ahead) and > every earlier commit."""
    adj, now = make([10_000_000_000])
    ahead = now[0] + 5_000_000
    ts, c = adj.decide(ahead, (b"x",))
    assert c is None and ts > ahead
    ts2, _ = adj.decide(now[0], (b"y",))
    assert ts2 > ts


def test_check_keys_conflict_but_are_not_history():
    """A check key loses to a later writer; it does not make other transactions lose."""
    adj, now = make([10_000_000_000])
    start = adj.hlc.now()
    adj.decide(start, (b"row",))
    assert adj.decide(start, (b"other",), (b"row",)) == (0, b"row")
    s2 = adj.hlc.now()
    ts, c = adj.decide(s2, (b"w1",), (b"locked",))
    assert c is None
    assert adj.decide(s2, (b"locked",))[1] is None


def test_old_start_ts_is_refused_and_history_forgotten():
    """A start time older than the history window is a conflict; old keys are dropped."""
    adj, now = make([10_000_000_000])
    start = adj.hlc.now()
    adj.decide(start, (b"a",))
    assert adj.tracked_keys == 1
    now[0] += HISTORY_US + 1_000_000
    assert adj.decide(start, (b"zzz",)) == (0, b"zzz")
    fresh = adj.hlc.now()
    assert adj.decide(fresh, (b"b",))[1] is None
    assert adj.tracked_keys == 1     # "a" forgotten


def test_rebuild_from_log_entries():
    """After a restart, recent history and the last timestamp come back from the log."""
    adj, now = make([10_000_000_000])
    entries = [NS(commit_ts=now[0] - 10, writes=[NS(key=b"a")]),
               NS(commit_ts=now[0] - 20, writes=[NS(key=b"b")]),
               NS(commit_ts=now[0] - HISTORY_US - 5, writes=[NS(key=b"old")])]
    adj.rebuild(iter(entries), now[0] - 10)
    assert adj.decide(now[0] - 15, (b"a",)) == (0, b"a")
    assert adj.decide(now[0] - 15, (b"b",))[1] is None
    assert adj.tracked_keys == 2       # a and b; "old" was never loaded
    # A log whose last commit is ahead of the clock: new commits still go above it.
    adj2, now2 = make([10_000_000_000])
    adj2.rebuild(iter([]), now2[0] + 1_000)
    ts, _ = adj2.decide(now2[0], (b"k",))
    assert ts > now2[0] + 1_000


def test_promise_closed_bounds_future_commits():
    """Every commit assigned after promise_closed(lead) is above the promise."""
    adj, now = make([10_000_000_000])
    closed = adj.promise_closed(2_000)
    assert closed >= now[0] + 2_000
    ts, _ = adj.decide(now[0], (b"k",))
    assert ts > closed
