"""asyncio glue around one RaftNode: the reference way to run the core in a server.

One task owns the node (the core is not thread-safe and not reentrant). Everything that
reaches it - peer messages, client proposals, timer ticks - goes through one inbox; each
turn of the loop drains the inbox, feeds the node, and then does the I/O in the order
Outputs demands:

    persist all Outputs of the turn, one fsync (in a worker thread)   <- group commit
    send all their messages                                           (transport callback)
    apply restores and committed entries, resolve proposal futures    (apply callback)

While one turn's fsync runs, new proposals pile up in the inbox and become the next
turn's single batch, so the number of fsyncs per second stays bounded however many
clients there are.

A proposal's future resolves to its committed Entry, or fails with
  NotLeaderError(leader_id)  - redirect (leader_id None: election in progress, retry)
  OverloadedError            - back-pressure
  ProposalLost               - another entry was committed at its index (a leader change
                               dropped it): the proposal certainly did not commit
  ProposalUnknown            - a snapshot skipped past its index: it may or may not have
                               committed (the caller must treat the result as ambiguous)
"""

from __future__ import annotations

import asyncio
import inspect
import dataclasses
from collections.abc import Callable

from .core import RaftNode
from .messages import Entry, Message, NotLeader, Outputs, Overloaded, Snapshot
from .storage import RaftStorage


class NotLeaderError(Exception):
    def __init__(self, leader_id: str | None, term: int):
        super().__init__(f"not the leader (leader: {leader_id}, term {term})")
        self.leader_id = leader_id
        self.term = term


class OverloadedError(Exception):
    pass


class ProposalLost(Exception):
    pass


class ProposalUnknown(Exception):
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class _Tick:
    pass


_TICK = _Tick()


@dataclasses.dataclass(frozen=True, slots=True)
class _Compact:
    index: int
    data: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class _Transfer:
    target: str


class RaftDriver:
    def __init__(self, node: RaftNode, storage: RaftStorage, *, send: Callable[[Message], None],
                 apply: Callable[[Entry], None], restore: Callable[[Snapshot], None] = lambda s: None,
                 tick_seconds: float = 0.01, batch_proposals_max: int = 1024, inbox_max: int = 65536):
        assert tick_seconds > 0 and batch_proposals_max >= 1 and inbox_max >= 1
        self.node = node
        self.storage = storage
        self._send = send
        self._apply = apply
        self._restore = restore
        self.tick_seconds = tick_seconds
        self.batch_proposals_max = batch_proposals_max
        self._inbox: asyncio.Queue = asyncio.Queue(inbox_max)
        self._pending: dict[int, tuple[int, asyncio.Future]] = {}   # index -> (term, future)
        self.fsyncs = 0

    # -- inputs (called from gRPC handlers, on the event loop)

    def receive(self, message: Message) -> None:
        """A message from a peer. Dropped when the inbox is full: Raft retries."""
        try:
            self._inbox.put_nowait(message)
        except asyncio.QueueFull:
            pass

    async def propose(self, payload: bytes) -> Entry:
        future = asyncio.get_running_loop().create_future()
        try:
            self._inbox.put_nowait((payload, future))
        except asyncio.QueueFull:
            raise OverloadedError("inbox full") from None
        return await future

    def compact(self, index: int, data: bytes) -> None:
        """The state machine, having applied every entry up to `index`, is `data`: snapshot
        it and drop the log up to there (on the node's task, in order with everything else)."""
        self._inbox.put_nowait(_Compact(index, bytes(data)))

    def transfer_leadership(self, target: str) -> None:
        self._inbox.put_nowait(_Transfer(target))

    # -- the loop

    async def run(self) -> None:
        ticker = asyncio.create_task(self._ticker())
        try:
            while True:
                items = [await self._inbox.get()]
                while not self._inbox.empty() and len(items) < self._inbox.maxsize:
                    items.append(self._inbox.get_nowait())
                await self._turn(items)
        finally:
            ticker.cancel()
            for _, future in self._pending.values():
                if not future.done():
                    future.set_exception(ProposalUnknown("the node stopped"))

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.tick_seconds)
            try:
                self._inbox.put_nowait(_TICK)
            except asyncio.QueueFull:
                pass

    async def _turn(self, items: list) -> None:
        node = self.node
        outs: list[Outputs] = []
        proposals: list[tuple[bytes, asyncio.Future]] = []
        for item in items:
            if item is _TICK:
                outs.append(node.tick())
            elif isinstance(item, _Compact):
                if item.index > node.log.snapshot_index:
                    outs.append(node.compact(item.index, item.data))
            elif isinstance(item, _Transfer):
                out = node.transfer_leadership(item.target)
                if isinstance(out, Outputs):
                    outs.append(out)
            elif isinstance(item, tuple):
                proposals.append(item)
            else:
                outs.append(node.step(item))
        for start in range(0, len(proposals), self.batch_proposals_max):
            batch = [p for p in proposals[start:start + self.batch_proposals_max] if not p[1].done()]
            if batch:
                outs.extend(self._propose(batch))
        if any(out.must_sync for out in outs):
            await asyncio.to_thread(self._persist, outs)
        for out in outs:
            for message in out.messages:
                self._send(message)
        for out in outs:
            await self._deliver(out)

    def _propose(self, batch) -> list[Outputs]:
        result = self.node.propose_many([payload for payload, _ in batch])
        if isinstance(result, NotLeader):
            for _, future in batch:
                future.set_exception(NotLeaderError(result.leader_id, result.term))
            return []
        if isinstance(result, Overloaded):
            for _, future in batch:
                future.set_exception(OverloadedError(f"{result.uncommitted} entries wait for a majority"))
            return []
        for offset, (_, future) in enumerate(batch):
            self._pending[result.proposed_index + offset] = (result.proposed_term, future)
        return [result]

    def _persist(self, outs: list[Outputs]) -> None:
        for out in outs:
            self.storage.persist(out)
        self.storage.sync()
        self.fsyncs += 1

    async def _deliver(self, out: Outputs) -> None:
        if out.restore is not None:
            # The restore callback may be a coroutine (the journal copies entries from a peer):
            # the node takes no input until it is done.
            restored = self._restore(out.restore)
            if inspect.isawaitable(restored):
                await restored
            for index in [i for i in self._pending if i <= out.restore.index]:
                _, future = self._pending.pop(index)
                if not future.done():
                    future.set_exception(ProposalUnknown(f"a snapshot replaced index {index}"))
        for entry in out.committed:
            self._apply(entry)
            waiting = self._pending.pop(entry.index, None)
            if waiting is None or waiting[1].done():
                continue
            term, future = waiting
            if term == entry.term:
                future.set_result(entry)
            else:
                future.set_exception(ProposalLost(f"index {entry.index} went to term {entry.term}"))
