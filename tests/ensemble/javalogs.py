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

THREAD = re.compile(r"\[(LearnerHandler-[^\]]+)\]")
FOLLOWER = re.compile(r"\[(LearnerHandler-[^\]]+)\].*(?:Follower|Observer) sid: (\d+)")
BEFORE = "received before ACK for"
TIMEOUT_CLOSE = re.compile(r"Synchronously closing socket to learner (\d+)")


def learner_complaints(log: str) -> dict[int, dict[str, int]]:
    """sid -> {"ack_out_of_order": n, "dropped_for_missing_ack": n} from a Java leader's log."""
    sid_of: dict[str, int] = {}
    out: dict[int, dict[str, int]] = {}
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
                out.setdefault(sid, {}).setdefault("ack_out_of_order", 0)
                out[sid]["ack_out_of_order"] += 1
        elif "due to transaction timeout" in line:
            timeout_pending = True
        elif timeout_pending:
            m = TIMEOUT_CLOSE.search(line)
            if m:
                sid = int(m.group(1))
                out.setdefault(sid, {}).setdefault("dropped_for_missing_ack", 0)
                out[sid]["dropped_for_missing_ack"] += 1
                timeout_pending = False
    return out


def menagerie_learner_errors(ens) -> list[str]:
    """Complaints of every Java member's log about learners that are (now) Menagerie.

    An ACK out of order is always an error. A drop for a missing ACK is one unless that Java
    member was paused (SIGSTOP): its timers fire when it resumes, rightly."""
    bad = []
    for m in ens:
        if m.kind != "java" or m.proc is None:
            continue
        for sid, what in learner_complaints(m.log_text()).items():
            learner = ens.members.get(sid)
            if learner is None or learner.kind != "menagerie":
                continue
            if m.ever_paused:
                what.pop("dropped_for_missing_ack", None)
            if what:
                bad.append(f"{m.name} (Java leader) about {learner.name}: "
                           + ", ".join(f"{k} x{v}" for k, v in sorted(what.items()))
                           + " (the learner skipped the ACK of a proposal)")
    return bad
