"""ZooKeeper transaction log files as a reader sees them (spec 10, section 10.2), for the
torn-tail scenarios: where each whole record lies, cutting a file into its last record,
writing an unfinished record after it, and the zxids a restart could read back.

A log file: a 16-byte header (``ZKLG``, version 2, dbid), then records ``long checksum,
int length, body[length], byte 'B'``, then zeros (preallocation). A reader stops at a zero
length, at EOF, or at a record without its 'B' (a partial write), and goes on with the next
file. The body starts with the TxnHeader ``long clientId, int cxid, long zxid, ...``."""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass

HEADER = 16
MAGIC = 0x5A4B4C47


@dataclass
class Record:
    offset: int  # of its checksum
    length: int  # of its body
    zxid: int

    @property
    def end(self) -> int:
        return self.offset + 12 + self.length + 1


def log_files(version2: str) -> list[str]:
    """log.<zxid hex> files, oldest first."""
    names = [n for n in os.listdir(version2) if re.fullmatch(r"log\.[0-9a-f]+", n)]
    return [os.path.join(version2, n) for n in sorted(names, key=lambda n: int(n[4:], 16))]


def snapshot_zxids(version2: str) -> list[int]:
    return sorted(int(n[9:], 16) for n in os.listdir(version2)
                  if re.fullmatch(r"snapshot\.[0-9a-f]+", n))


def records(path: str) -> list[Record]:
    """Every whole record a reader would return from this file, in order."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < HEADER or struct.unpack(">i", data[:4])[0] != MAGIC:
        return []
    out = []
    pos = HEADER
    while pos + 12 <= len(data):
        length = struct.unpack(">i", data[pos + 8:pos + 12])[0]
        end = pos + 12 + length
        if length <= 0 or end + 1 > len(data) or data[end] != 0x42:
            break
        zxid = struct.unpack(">q", data[pos + 24:pos + 32])[0] if length >= 20 else -1
        out.append(Record(pos, length, zxid))
        pos = end + 1
    return out


def newest_with_records(version2: str) -> tuple[str, list[Record]]:
    """The newest log file that holds at least one whole record, and its records."""
    for path in reversed(log_files(version2)):
        recs = records(path)
        if recs:
            return path, recs
    raise FileNotFoundError(f"no log file with a whole record in {version2}")


def cut_last(version2: str) -> str:
    """Truncates the newest log file half-way into its last record's body; returns what was
    done (file, zxid of the record cut)."""
    path, recs = newest_with_records(version2)
    last = recs[-1]
    at = last.offset + 12 + last.length // 2
    os.truncate(path, at)
    return (f"{os.path.basename(path)} cut at byte {at}, inside its last record "
            f"(zxid {last.zxid:#x}, bytes {last.offset}..{last.end})")


def unfinished_after_last(version2: str) -> str:
    """Writes the start of a record after the newest file's last whole record, as a write cut
    short in the preallocated area would leave it: a checksum, a length, part of a body, then
    zeros where the rest and its 'B' would be."""
    path, recs = newest_with_records(version2)
    last = recs[-1]
    body_len = 96
    partial = bytes((i * 37 + 11) % 251 + 1 for i in range(40))  # non-zero bytes
    blob = struct.pack(">qi", 0x1234ABCD, body_len) + partial
    with open(path, "r+b") as f:
        f.seek(last.end)
        f.write(blob + bytes(body_len - len(partial) + 1))  # zeros through the 'B' slot
    return (f"{os.path.basename(path)}: an unfinished record ({len(blob)} of "
            f"{12 + body_len + 1} bytes) written after its last record (zxid {last.zxid:#x}, "
            f"ends at byte {last.end})")


def readable_problems(version2: str, last_zxid: int) -> list[str]:
    """What a restart reading these files would miss: the newest readable zxid (logs and
    snapshots) below `last_zxid`, or a gap within an epoch in the zxids logged after the
    newest snapshot."""
    snaps = snapshot_zxids(version2)
    base = snaps[-1] if snaps else 0
    zxids = sorted({r.zxid for p in log_files(version2) for r in records(p)})
    bad = []
    top = max(zxids[-1] if zxids else 0, base)
    if top < last_zxid:
        bad.append(f"its logs and snapshots read back to zxid {top:#x}, below the "
                   f"{last_zxid:#x} it reported")
    after = [z for z in zxids if z > base]
    for a, b in zip(after, after[1:]):
        if a >> 32 == b >> 32 and b - a != 1:
            bad.append(f"gap in the readable log: {a:#x} then {b:#x}")
    return bad
