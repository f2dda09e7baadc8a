"""Storage server in-process: it follows the journal (also when started first), and reads wait
for the closed timestamp, or fail with UNAVAILABLE after the bound."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from services.common.hlc import wall_us
from services.journal.server import JournalServer
from services.pb.dsql.journal.v1 import journal_pb2 as jpb
from services.pb.dsql.journal.v1 import journal_pb2_grpc as jpbg
from services.pb.dsql.storage.v1 import storage_pb2 as pb
from services.pb.dsql.storage.v1 import storage_pb2_grpc as pbg
from services.storage import server as storage_server
from services.storage.server import StorageServer
from tests.unit.compute.cluster_fixture import make_config


async def start_storage(config, az):
    ss = StorageServer(config, az)
    server = grpc.aio.server()
    pbg.add_StorageServicer_to_server(ss, server)
    target = config.endpoint(az, "storage").grpc_target
    server.add_insecure_port(target)
    ss.start_background()
    await server.start()
    ch = grpc.aio.insecure_channel(target)
    return ss, server, ch, pbg.StorageStub(ch)


async def start_journal(config, az):
    js = JournalServer(config, az)
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((js.handlers(),))
    target = config.endpoint(az, "journal").grpc_target
    server.add_insecure_port(target)
    js.start_background()
    await server.start()
    ch = grpc.aio.insecure_channel(target)
    return js, server, ch, jpbg.JournalStub(ch)


def test_read_times_out_without_journal(tmp_path, monkeypatch):
    """With no journal, a read at a fresh timestamp gives UNAVAILABLE after the wait bound;
    a read at timestamp 0 (nothing to wait for) is served; one below the GC horizon is refused."""
    monkeypatch.setattr(storage_server, "READ_WAIT_S", 0.2)
    config = make_config(tmp_path, ("az1",))

    async def run():
        ss, server, ch, stub = await start_storage(config, "az1")
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.Get(pb.GetRequest(read_ts=wall_us(), keys=[b"a"]))
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE
        r = await stub.Get(pb.GetRequest(read_ts=0, keys=[b"a"]))
        assert not r.values[0].found
        ss.store.gc_horizon = 100           # reads below the GC horizon: snapshot too old
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.Scan(pb.ScanRequest(read_ts=99))
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        await ch.close()
        await server.stop(None)
        await ss.stop()

    asyncio.run(run())


def test_storage_before_journal_then_reads(tmp_path):
    """Storage started first keeps retrying; once the journal is up it applies commits and a
    read at a timestamp after a commit waits for the closed timestamp and sees it."""
    config = make_config(tmp_path, ("az1",))

    async def run():
        ss, sserver, sch, sstub = await start_storage(config, "az1")
        await asyncio.sleep(0.2)
        js, jserver, jch, jstub = await start_journal(config, "az1")
        r = await jstub.Commit(jpb.CommitRequest(start_ts=wall_us(), writes=[
            jpb.Mutation(key=b"a", value=b"1"), jpb.Mutation(key=b"b", value=b"2")]))
        assert r.outcome == jpb.CommitResponse.COMMITTED
        read_ts = wall_us()
        got = await sstub.Get(pb.GetRequest(read_ts=read_ts, keys=[b"a", b"b", b"c"]), timeout=10)
        assert [(v.found, v.value) for v in got.values] == [(True, b"1"), (True, b"2"), (False, b"")]
        sc = await sstub.Scan(pb.ScanRequest(read_ts=read_ts, start=b"", end=b""))
        assert [(kv.key, kv.value) for kv in sc.rows] == [(b"a", b"1"), (b"b", b"2")] and not sc.more
        old = await sstub.Get(pb.GetRequest(read_ts=r.commit_ts - 1, keys=[b"a"]))
        assert not old.values[0].found
        st = await sstub.Status(pb.StatusRequest())
        assert st.applied_index == 1 and st.applied_ts == r.commit_ts and st.closed_ts >= read_ts
        for x in (sch, jch):
            await x.close()
        await sserver.stop(None)
        await ss.stop()
        await jserver.stop(None)
        await js.stop()

    asyncio.run(run())
