"""Randomized, seeded simulation of Raft clusters under faults (see sim.py for what is checked).

    RAFT_SIM_SEEDS=2000,250   short seeds, long seeds (the default: about 90 s of CPU);
                              "N" alone: N short seeds and N//7 long ones
    RAFT_SIM_SEED_BASE=0      where the seed ranges start (explore new ones with another base)
    RAFT_SEED=123             replay just that seed, with a trace in the failure message
                              (seeds >= 1000000 are long scenarios)
"""

from __future__ import annotations

import os

import pytest

from services.journal.raft import Outputs

from .sim import LONG_SEED_BASE, Scenario, SimFailure, Simulator, run_seed

SHORT_CHUNKS = 20
LONG_CHUNKS = 10


def _counts() -> tuple[int, int]:
    spec = os.environ.get("RAFT_SIM_SEEDS", "2000,250")
    if "," in spec:
        short, long = spec.split(",", 1)
        return int(short), int(long)
    return int(spec), int(spec) // 7


SHORT_SEEDS, LONG_SEEDS = _counts()
SEED_BASE = int(os.environ.get("RAFT_SIM_SEED_BASE", "0"))
REPLAY = os.environ.get("RAFT_SEED")


def _chunk(count: int, chunks: int, i: int) -> range:
    per = -(-count // chunks)
    return range(min(count, i * per), min(count, (i + 1) * per))


@pytest.mark.skipif(REPLAY is None, reason="set RAFT_SEED=<seed> to replay one seed")
def test_replay_seed():
    """Replays one seed exactly, tracing every event (the trace tail is in the failure)."""
    seed = int(REPLAY)
    stats = Simulator(seed, trace=True).run()
    print(f"seed {seed}: {stats}")


@pytest.mark.skipif(REPLAY is not None, reason="replaying RAFT_SEED only")
@pytest.mark.parametrize("chunk", range(SHORT_CHUNKS))
def test_short_scenarios(chunk):
    """Safety after every step and liveness after the heal, for many short faulty runs."""
    for k in _chunk(SHORT_SEEDS, SHORT_CHUNKS, chunk):
        run_seed(SEED_BASE + k)


@pytest.mark.skipif(REPLAY is not None, reason="replaying RAFT_SEED only")
@pytest.mark.parametrize("chunk", range(LONG_CHUNKS))
def test_long_scenarios(chunk):
    """The same for long runs: many elections, crashes, compactions and snapshot installs."""
    for k in _chunk(LONG_SEEDS, LONG_CHUNKS, chunk):
        run_seed(LONG_SEED_BASE + SEED_BASE + k)


def test_a_seed_replays_exactly():
    """Two runs of one seed produce the same history, event for event."""
    a = Simulator(7, trace=True)
    b = Simulator(7, trace=True)
    assert a.run() == b.run()
    assert a.trace == b.trace and len(a.trace) > 100


def test_the_scenarios_exercise_the_faults():
    """The faults actually happen: otherwise passing seeds would prove little."""
    totals: dict[str, int] = {}
    for seed in range(60):
        for key, value in run_seed(seed).items():
            totals[key] = totals.get(key, 0) + value
    for key in ("dropped", "crashes", "torn", "elections", "snapshots_sent", "committed", "transfers"):
        assert totals[key] > 0, (key, totals)


# Each known bug must be caught by the checker that guards against it, within a few seeds.
BUGS = [
    ("vote_twice", {"election safety"}),
    ("volatile_vote", {"election safety"}),
    ("commit_without_majority", {"leader completeness", "state machine safety"}),
    ("ack_before_append", {"leader completeness", "state machine safety", "log matching", "liveness"}),
]


@pytest.mark.parametrize("bug,checkers", BUGS, ids=[b for b, _ in BUGS])
def test_checkers_catch_injected_bugs(bug, checkers):
    """With a bug switched on in every node, some seed fails, and with the right checker."""
    for seed in range(300):
        try:
            run_seed(seed, buggify=frozenset({bug}))
        except SimFailure as failure:
            assert failure.checker in checkers, failure
            assert f"RAFT_SEED={seed}" in str(failure)
            return
    pytest.fail(f"no seed caught {bug}")


def test_sending_before_the_fsync_is_caught():
    """A driver that sends before its writes are durable loses votes and acknowledgements in
    crashes; the checkers see the consequences. The correct order survives the same crashes."""
    for seed in range(50):
        run_seed(seed, crash_mid_write=0.3)
    for seed in range(300):
        try:
            run_seed(seed, crash_mid_write=0.3, send_before_sync=True)
        except SimFailure as failure:
            assert failure.checker in {"election safety", "state machine safety", "leader completeness",
                                       "log matching"}, failure
            return
    pytest.fail("no seed caught a driver that sends before fsync")


def test_liveness_checker_fails_when_the_network_never_heals():
    """If messages never get through, the liveness checker reports it."""

    class Deaf(Simulator):
        def deliver(self, m):
            self.stats["dropped"] += 1

    with pytest.raises(SimFailure) as failure:
        Deaf(3, Scenario.for_seed(3, chaos_ticks=10)).run()
    assert failure.value.checker == "liveness"


def test_election_checker_sees_two_leaders_in_one_term():
    """The election-safety checker itself: two nodes claiming one term fail at once."""
    sim = Simulator(5, Scenario.for_seed(5, chaos_ticks=30))
    sim.run()
    leaders = [sn for sn in sim.nodes if sn.node.role.value == "leader"]
    assert len(leaders) == 1
    other = next(sn for sn in sim.nodes if sn is not leaders[0])
    other.node.role = leaders[0].node.role
    other.node.term = leaders[0].node.term
    with pytest.raises(SimFailure) as failure:
        sim.checker.after_step(other, Outputs())
    assert failure.value.checker == "election safety"


def test_replay_does_not_depend_on_the_process():
    """A seed replays the same history in another process with another hash seed (nothing
    iterates over a set or depends on id() or the clock)."""
    import subprocess
    import sys

    code = ("import hashlib; from tests.unit.journal.raft.sim import Simulator; s = Simulator(11, trace=True); "
            "st = s.run(); print(sorted(st.items()), hashlib.sha256('\\n'.join(s.trace).encode()).hexdigest())")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))
    runs = {subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(h)}).stdout for h in (1, 2)}
    assert len(runs) == 1, runs
