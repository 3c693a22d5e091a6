"""What a Java leader's log says about its learners: protocol complaints the harness turns into
failures when the learner is a Menagerie member.

Java's LearnerHandler keeps, per learner, the oldest proposal it has not seen acknowledged
(`SyncLimitCheck`). A learner that skips the ACK of a proposal makes the leader log
``ACK for 0x.. received before ACK for 0x..`` at the next ACK, and after syncLimit ticks
``Closing connection to peer due to transaction timeout.`` followed by ``Synchronously closing
socket to learner N``: the learner is dropped, its clients are disconnected and it syncs again.
A Java learner never skips an ACK, so from a Menagerie learner these are protocol errors."""

from __future__ import annotations

import re
import time

THREAD = re.compile(r"\[(LearnerHandler-[^\]]+)\]")
FOLLOWER = re.compile(r"\[(LearnerHandler-[^\]]+)\].*(?:Follower|Observer) sid: (\d+)")
BEFORE = "received before ACK for"
TIMEOUT_CLOSE = re.compile(r"Synchronously closing socket to learner (\d+)")


def line_time(line: str, day_start: float) -> float | None:
    """Epoch time of a slf4j-simple line (``HH:MM:SS.mmm`` local time of the day that starts
    at `day_start`)."""
    try:
        h, m, rest = line[:12].split(":")
        return day_start + int(h) * 3600 + int(m) * 60 + float(rest)
    except ValueError:
        return None


def learner_complaints(log: str, day_start: float = 0.0) -> list[tuple[int, str, float | None]]:
    """(learner sid, "ack_out_of_order" | "dropped_for_missing_ack", time) from a Java
    leader's log, in order."""
    sid_of: dict[str, int] = {}
    out = []
    timeout_pending = False
    for line in log.splitlines():
        m = FOLLOWER.search(line)
        if m:
            sid_of[m.group(1)] = int(m.group(2))
            continue
        if BEFORE in line:
            t = THREAD.search(line)
            sid = sid_of.get(t.group(1)) if t else None
            if sid is not None:
                out.append((sid, "ack_out_of_order", line_time(line, day_start)))
        elif "due to transaction timeout" in line:
            timeout_pending = True
        elif timeout_pending:
            m = TIMEOUT_CLOSE.search(line)
            if m:
                out.append((int(m.group(1)), "dropped_for_missing_ack",
                            line_time(line, day_start)))
                timeout_pending = False
    return out


def menagerie_learner_errors(ens) -> list[str]:
    """Complaints of every Java member's log about learners that are (now) Menagerie.

    An ACK out of order is always an error. A drop for a missing ACK is one unless that Java
    member was paused (SIGSTOP; its timers fire when it resumes, rightly) or the learner was
    (a paused learner acknowledges nothing), or the learner's log disk was filled up (it
    cannot log, so it must acknowledge nothing: scenarios_disk.py)."""
    lt = time.localtime()
    day_start = time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, 0, 0, 0, 0, 0, -1))
    counts: dict[tuple[str, str, str], int] = {}
    for m in ens:
        if "java" not in {k for _, k in m.history}:
            continue
        for sid, what, t in learner_complaints(m.log_text(), day_start):
            learner = ens.members.get(sid)
            if learner is None or t is None or learner.kind_at(t) != "menagerie":
                continue
            if what == "dropped_for_missing_ack" and (
                    m.ever_paused or learner.ever_paused or learner.ever_disk_full):
                continue
            key = (f"java#{m.sid}", f"menagerie#{sid}", what)
            counts[key] = counts.get(key, 0) + 1
    return [f"{lead} (Java leader) about {learner}: {what} x{n} (the learner skipped the ACK "
            "of a proposal)" for (lead, learner, what), n in sorted(counts.items())]


PANIC = re.compile(r"panicked at|RUST_BACKTRACE")
MENAGERIE_ERROR = re.compile(r"\bERROR\b")


def menagerie_log_problems(ens) -> tuple[list[str], list[str]]:
    """(panics, error lines) in the logs of members that ever ran as Menagerie.

    A panic is a failure of the scenario whatever else passed (the project's rule: never
    panic). ERROR lines are reported, not failed on: a member killed mid-write or cut off by a
    fault may rightly log one. A Java run of the same member logs no Rust panic text, so the
    whole file is scanned; an ERROR line is counted only when the member ran as Menagerie."""
    panics: list[str] = []
    errors: list[str] = []
    for m in ens:
        if "menagerie" not in {k for _, k in m.history}:
            continue
        for line in m.log_text().splitlines():
            if PANIC.search(line):
                panics.append(f"{m.kind}#{m.sid}: {line.strip()[:300]}")
            elif MENAGERIE_ERROR.search(line) and "org.apache.zookeeper" not in line:
                errors.append(f"{m.kind}#{m.sid}: {line.strip()[:300]}")
    return panics, errors
