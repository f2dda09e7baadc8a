"""The journal's log file: records survive reopening, a torn tail is cut off at startup."""

import os

import pytest

from services.journal.log import HEADER, Log, encode_record
from services.pb.dsql.journal.v1 import journal_pb2 as pb


def entry(i, ts=None, key=b"k", value=b"v"):
    return pb.LogEntry(index=i, commit_ts=ts or 1000 + i,
                       writes=[pb.Mutation(key=key + b"%d" % i, value=value)]).SerializeToString()


def test_append_read_reopen(tmp_path):
    """Appended entries read back in order, also after reopening the file."""
    p = tmp_path / "journal.log"
    log = Log(p)
    assert log.last_index == 0
    assert log.append([entry(1), entry(2)]) == 2
    assert log.append([entry(3)]) == 3
    assert [e.index for e in log.read_entries(1, 10)] == [1, 2, 3]
    assert [e.index for e in log.read_entries(2, 1)] == [2]
    log.close()
    log = Log(p)
    assert log.last_index == 3 and log.truncated_bytes == 0
    es = log.read_entries(1, 10)
    assert [e.commit_ts for e in es] == [1001, 1002, 1003]
    assert es[2].writes[0].key == b"k3"
    assert [e.index for e in log.iter_backwards()] == [3, 2, 1]
    assert log.append([entry(4)]) == 4


def test_append_requires_contiguous_indexes(tmp_path):
    log = Log(tmp_path / "journal.log")
    log.append([entry(1)])
    with pytest.raises(AssertionError):
        log.append([entry(3)])


def test_read_bounds(tmp_path):
    """read_payloads respects count and byte bounds but always returns at least one entry."""
    log = Log(tmp_path / "journal.log")
    log.append([entry(i, value=b"x" * 1000) for i in range(1, 21)])
    assert len(log.read_payloads(1, count_max=5)) == 5
    assert len(log.read_payloads(18, count_max=100)) == 3
    got = log.read_payloads(1, count_max=100, bytes_max=3000)
    assert 1 <= len(got) <= 3
    assert len(log.read_payloads(1, count_max=100, bytes_max=10)) == 1
    assert log.read_payloads(21) == [] and log.read_payloads(0) == []


@pytest.mark.parametrize("damage", ["short_header", "short_payload", "bad_crc", "zeros"])
def test_torn_tail_is_truncated(tmp_path, damage):
    """A partially written (or garbage) last record is detected and cut off on open; the
    whole records before it are kept and appending continues from there."""
    p = tmp_path / "journal.log"
    log = Log(p)
    log.append([entry(1), entry(2)])
    log.close()
    good_size = os.path.getsize(p)
    rec = encode_record(entry(3))
    with open(p, "ab") as f:
        if damage == "short_header":
            f.write(rec[:5])
        elif damage == "short_payload":
            f.write(rec[:len(rec) - 3])
        elif damage == "bad_crc":
            f.write(rec[:-1] + bytes([rec[-1] ^ 0xFF]))
        else:
            f.write(b"\x00" * 4096)
    log = Log(p)
    assert log.last_index == 2
    assert log.truncated_bytes > 0
    assert os.path.getsize(p) == good_size
    assert log.append([entry(3)]) == 3
    log.close()
    log = Log(p)
    assert [e.index for e in log.read_entries(1, 10)] == [1, 2, 3]


def test_header_layout():
    """Each record is u32 length, u32 CRC32, payload."""
    import zlib
    rec = encode_record(b"\x08\x01")
    assert HEADER.unpack(rec[:8]) == (2, zlib.crc32(b"\x08\x01"))
    assert rec[8:] == b"\x08\x01"


def test_cut_head_truncate_reset_and_reopen(tmp_path):
    """cut_head drops old entries (the file then starts at first_index, also after reopening),
    truncate drops a suffix, reset empties the log to continue at a given index."""
    p = tmp_path / "replica.log"
    log = Log(p)
    log.append([entry(i) for i in range(1, 11)])
    log.cut_head(7)
    assert (log.first_index, log.last_index) == (7, 10)
    assert [e.index for e in log.read_entries(7, 10)] == [7, 8, 9, 10]
    assert log.read_payloads(3) == []
    assert [e.index for e in log.iter_backwards()] == [10, 9, 8, 7]
    log.append([entry(11)])
    log.truncate(9)
    assert log.last_index == 9
    log.close()
    log = Log(p)
    assert (log.first_index, log.last_index, log.truncated_bytes) == (7, 9, 0)
    assert [e.index for e in log.read_entries(7, 10)] == [7, 8, 9]
    log.reset(40)
    assert log.last_index == 39
    log.append([entry(40), entry(41)])
    log.close()
    log = Log(p)
    assert (log.first_index, log.last_index) == (40, 41)
    assert not os.path.exists(str(p) + ".cut")
