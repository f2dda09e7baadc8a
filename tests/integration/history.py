"""A checker for list-append histories (after Elle, Kingsbury and Alvaro, VLDB 2020).

A history is a list of transactions, each a dict:

    {"id": 7, "status": "ok" | "fail" | "info",
     "ops": [("append", key, value), ("r", key, [v1, v2, ...]), ...]}

`ok` committed, `fail` certainly aborted (e.g. 40001), `info` outcome unknown. Every appended
value is unique. Reads give the whole list of a key as the transaction saw it.

`check(history, final)` takes the lists read after the run (`final`: key -> list, read by a
transaction that started after every other had finished) and returns a dict of anomaly name ->
list of explanations. Anomalies snapshot isolation forbids:

    G1a              a committed read (or the final state) contains a value appended by an aborted txn
    G1b              a committed read saw an intermediate state of another transaction
    internal         a transaction's read does not reflect its own earlier appends
    incompatible-order  two reads of one key are not prefixes of one another / of the final list
    lost-append      a committed append is missing from the final list (a lost update)
    duplicate        a value appears twice in one list
    G0               a cycle of write-write dependencies
    G1c              a cycle of write-write and write-read dependencies
    G-single         a cycle with exactly one read-write anti-dependency (read skew, lost update)

`G2` (cycles with two or more anti-dependencies: write skew) is reported under "G2 (allowed)";
snapshot isolation permits it. `forbidden(result)` lists the anomalies that are not allowed.
"""

from __future__ import annotations

import collections
from typing import Iterable

ALLOWED = ("G2 (allowed)",)


def forbidden(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in ALLOWED and v}


def check(history: list[dict], final: dict) -> dict:
    out: dict[str, list] = collections.defaultdict(list)
    by_id = {t["id"]: t for t in history}
    writer: dict[object, int] = {}                   # value -> txn id
    appends_of: dict[int, dict] = collections.defaultdict(lambda: collections.defaultdict(list))
    for t in history:
        for op in t["ops"]:
            if op[0] == "append":
                _, k, v = op
                if v in writer:
                    raise ValueError(f"value {v!r} appended twice")
                writer[v] = t["id"]
                appends_of[t["id"]][k].append(v)
    committed = [t for t in history if t["status"] == "ok"]

    # -- final state: no duplicates, no aborted values, no lost committed appends -------------------
    for k, lst in final.items():
        if len(set(lst)) != len(lst):
            out["duplicate"].append(f"final list of {k!r} has duplicates: {lst}")
        for v in lst:
            w = writer.get(v)
            if w is None:
                out["G1a"].append(f"final list of {k!r} holds {v!r}, which no transaction appended")
            elif by_id[w]["status"] == "fail":
                out["G1a"].append(f"final list of {k!r} holds {v!r} from aborted T{w}")
    for t in committed:
        for k, vs in appends_of[t["id"]].items():
            have = set(final.get(k, ()))
            for v in vs:
                if v not in have:
                    out["lost-append"].append(f"T{t['id']} committed append {v!r} to {k!r}, missing from final")

    # -- reads: prefixes of the final order, internal consistency, G1a, G1b -------------------------
    order = {k: list(lst) for k, lst in final.items()}
    pos = {k: {v: i for i, v in enumerate(lst)} for k, lst in order.items()}
    for t in committed:
        own: dict[object, list] = collections.defaultdict(list)
        for op in t["ops"]:
            if op[0] == "append":
                own[op[1]].append(op[2])
                continue
            _, k, seen = op
            seen = list(seen or [])
            if len(set(seen)) != len(seen):
                out["duplicate"].append(f"T{t['id']} read {k!r} with duplicates: {seen}")
            mine = own.get(k, [])
            if mine:
                if seen[len(seen) - len(mine):] != mine:
                    out["internal"].append(f"T{t['id']} read {k!r} = {seen} after appending {mine}")
                    continue
                seen = seen[:len(seen) - len(mine)]
            for v in seen:
                w = writer.get(v)
                if w is not None and by_id[w]["status"] == "fail":
                    out["G1a"].append(f"T{t['id']} read {v!r} of {k!r}, appended by aborted T{w}")
            full = order.get(k, [])
            if seen != full[:len(seen)]:
                out["incompatible-order"].append(
                    f"T{t['id']} read {k!r} = {seen}, not a prefix of the final {full}")
                continue
            if seen:
                w = writer.get(seen[-1])
                if w is not None and w != t["id"]:
                    wvs = appends_of[w][k]
                    if seen[-1] != wvs[-1]:
                        out["G1b"].append(f"T{t['id']} read {k!r} = {seen}, an intermediate state of T{w} "
                                          f"(which appended {wvs})")

    # -- dependency graph over committed transactions -----------------------------------------------
    ok_ids = {t["id"] for t in committed}
    edges: dict[int, dict[int, set]] = collections.defaultdict(lambda: collections.defaultdict(set))

    def add(a, b, kind):
        if a != b and a in ok_ids and b in ok_ids:
            edges[a][b].add(kind)

    for k, lst in order.items():
        for v1, v2 in zip(lst, lst[1:]):
            add(writer.get(v1), writer.get(v2), "ww")
    for t in committed:
        own_keys = set()
        for op in t["ops"]:
            if op[0] == "append":
                own_keys.add(op[1])
                continue
            _, k, seen = op
            if k in own_keys:
                continue                     # reads after own appends add no new edges
            seen = list(seen or [])
            lst = order.get(k, [])
            if seen != lst[:len(seen)]:
                continue
            if seen:
                add(writer.get(seen[-1]), t["id"], "wr")
            if len(seen) < len(lst):
                add(t["id"], writer.get(lst[len(seen)]), "rw")

    def reach(src, dst, kinds) -> list | None:
        """A path src -> dst using only edges of `kinds` (BFS), as a list of ids, or None."""
        prev = {src: None}
        q = collections.deque([src])
        while q:
            a = q.popleft()
            for b, ks in edges.get(a, {}).items():
                if b in prev or not (ks & kinds):
                    continue
                prev[b] = a
                if b == dst:
                    path = [b]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return path[::-1]
                q.append(b)
        return None

    for a, bs in list(edges.items()):
        for b, ks in list(bs.items()):
            if "ww" in ks:
                p = reach(b, a, {"ww"})
                if p:
                    out["G0"].append("cycle " + " -> ".join(f"T{x}" for x in [a] + p))
            if ks & {"ww", "wr"}:
                p = reach(b, a, {"ww", "wr"})
                if p and not (("ww" in ks) and reach(b, a, {"ww"})):
                    out["G1c"].append("cycle " + " -> ".join(f"T{x}" for x in [a] + p))
            if "rw" in ks:
                p = reach(b, a, {"ww", "wr"})
                if p:
                    out["G-single"].append(f"T{a} -rw-> T{b}, back by " + " -> ".join(f"T{x}" for x in p))
                elif reach(b, a, {"ww", "wr", "rw"}):
                    out["G2 (allowed)"].append(f"T{a} -rw-> T{b} closes a cycle with another anti-dependency")
    return {k: v for k, v in out.items() if v}


def summarize(result: dict) -> str:
    return "; ".join(f"{k}: {len(v)} (e.g. {v[0]})" for k, v in result.items()) or "clean"


def values(history: Iterable[dict]) -> int:
    return sum(1 for t in history for op in t["ops"] if op[0] == "append")
