"""The journal server in-process: group commit, closed timestamps, Subscribe catch-up from the
file after a restart, follower redirects, and a restart after a torn tail."""

from __future__ import annotations

import asyncio
import os

import grpc
import pytest

from services.common.hlc import wall_us
from services.journal.server import LEADER_METADATA, JournalServer
from services.pb.dsql.journal.v1 import journal_pb2 as pb
from services.pb.dsql.journal.v1 import journal_pb2_grpc as pbg
from tests.unit.compute.cluster_fixture import make_config


async def start(config, az):
    js = JournalServer(config, az)
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((js.handlers(),))
    ep = config.endpoint(az, "journal")
    server.add_insecure_port(ep.grpc_target)
    js.start_background()
    await server.start()
    ch = grpc.aio.insecure_channel(ep.grpc_target)
    return js, server, ch, pbg.JournalStub(ch)


async def stop(js, server, ch):
    await ch.close()
    await server.stop(None)
    await js.stop()


def commit(stub, start_ts, *keys):
    return stub.Commit(pb.CommitRequest(start_ts=start_ts,
                                        writes=[pb.Mutation(key=k, value=b"v") for k in keys]))


def test_commit_subscribe_restart(tmp_path):
    """Commits are logged and streamed with a closed timestamp above them; after a restart a
    subscriber from index 1 gets them from the file, and new commits continue the sequence."""
    config = make_config(tmp_path, ("az1",))

    async def run():
        js, server, ch, stub = await start(config, "az1")
        start_ts = wall_us()
        results = await asyncio.gather(*(commit(stub, start_ts, b"k%d" % i) for i in range(20)))
        assert all(r.outcome == pb.CommitResponse.COMMITTED for r in results)
        # Commit-wait: acknowledged commits are in the past of the clock.
        assert max(r.commit_ts for r in results) < wall_us()
        assert len({r.commit_ts for r in results}) == 20
        c = await commit(stub, start_ts, b"k3")
        assert c.outcome == pb.CommitResponse.CONFLICT and c.conflict_key == b"k3"
        st = await stub.Status(pb.StatusRequest())
        assert (st.role, st.last_index) == ("leader", 20)
        await stop(js, server, ch)
        return max(r.commit_ts for r in results)

    last_ts = asyncio.run(run())

    async def run2():
        js, server, ch, stub = await start(config, "az1")
        call = stub.Subscribe(pb.SubscribeRequest(from_index=1))
        got = []
        closed = 0
        async for batch in call:
            got.extend(batch.entries)
            assert batch.closed_ts >= closed
            closed = batch.closed_ts
            if len(got) >= 20:
                break
        assert [e.index for e in got] == list(range(1, 21))
        assert [e.commit_ts for e in got] == sorted(e.commit_ts for e in got)
        assert closed >= last_ts
        # Idle heartbeats keep advancing the closed timestamp (past the wall clock).
        before = wall_us()
        async for batch in call:
            if batch.closed_ts > before:
                assert not batch.entries
                break
        r = await commit(stub, wall_us(), b"new")
        assert r.outcome == pb.CommitResponse.COMMITTED and r.commit_ts > batch.closed_ts
        async for batch in call:
            if batch.entries:
                assert batch.entries[0].index == 21 and batch.entries[0].commit_ts == r.commit_ts
                assert batch.closed_ts >= r.commit_ts
                break
        call.cancel()
        await stop(js, server, ch)

    asyncio.run(run2())


def test_old_start_ts_conflicts(tmp_path):
    config = make_config(tmp_path, ("az1",))

    async def run():
        js, server, ch, stub = await start(config, "az1")
        r = await commit(stub, wall_us() - 301 * 1_000_000, b"a")
        assert r.outcome == pb.CommitResponse.CONFLICT
        await stop(js, server, ch)

    asyncio.run(run())


def test_follower_redirects(tmp_path):
    """A follower answers Commit with NOT_LEADER and refuses Subscribe naming the leader."""
    config = make_config(tmp_path, ("az1", "az2"))
    leader = config.endpoint("az1", "journal").grpc_target

    async def run():
        js, server, ch, stub = await start(config, "az2")
        r = await commit(stub, wall_us(), b"a")
        assert r.outcome == pb.CommitResponse.NOT_LEADER and r.leader == leader
        call = stub.Subscribe(pb.SubscribeRequest(from_index=1))
        with pytest.raises(grpc.aio.AioRpcError) as e:
            async for _ in call:
                pass
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert (LEADER_METADATA, leader) in tuple(e.value.trailing_metadata())
        st = await stub.Status(pb.StatusRequest())
        assert (st.role, st.leader) == ("follower", leader)
        await stop(js, server, ch)

    asyncio.run(run())


def test_restart_after_torn_tail(tmp_path):
    """A torn record at the end of the log is dropped at startup; its index is reused and the
    next commit_ts is above every logged one."""
    config = make_config(tmp_path, ("az1",))

    async def first():
        js, server, ch, stub = await start(config, "az1")
        rs = [await commit(stub, wall_us(), b"k%d" % i) for i in range(3)]
        await stop(js, server, ch)
        return rs[-1].commit_ts

    last = asyncio.run(first())
    path = config.az_dir("az1", "journal") / "journal.log"
    with open(path, "ab") as f:
        f.write(b"\x40\x00\x00\x00garbage")

    async def second():
        js, server, ch, stub = await start(config, "az1")
        assert js.log.truncated_bytes == 11
        r = await commit(stub, 1, b"zzz")   # a very old start_ts is refused...
        assert r.outcome == pb.CommitResponse.CONFLICT
        r = await commit(stub, wall_us(), b"zzz")
        assert r.outcome == pb.CommitResponse.COMMITTED and r.commit_ts > last
        assert (await stub.Status(pb.StatusRequest())).last_index == 4
        await stop(js, server, ch)

    asyncio.run(second())
    assert os.path.getsize(path) > 0


def test_start_ts_far_ahead_is_refused(tmp_path):
    """A start time from a clock far in the future is refused, so it cannot drag commit
    timestamps (and everyone's commit-wait) ahead."""
    config = make_config(tmp_path, ("az1",))

    async def run():
        js, server, ch, stub = await start(config, "az1")
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await commit(stub, wall_us() + 60_000_000, b"a")
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        r = await commit(stub, wall_us(), b"a")
        assert r.outcome == pb.CommitResponse.COMMITTED and r.commit_ts < wall_us() + 1_000_000
        await stop(js, server, ch)

    asyncio.run(run())
