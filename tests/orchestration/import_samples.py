"""Sample exports for the end-to-end import test, and the KPIs computed straight from them.

Two weeks of January 2021 (Monday 4th to Friday 15th), closed on the weekend: an Asterisk
queue_log (answered, abandoned, timed-out, transferred and refused calls, agents logging in and
pausing) and a call-log CSV (calls and chats with surveys), each with a few lines the importers
must reject. The expected KPIs are computed by reading the written files with nothing but
``csv`` and ``str.split``, independently of the importers.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

FIRST = date(2021, 1, 4)  # a Monday
LAST = date(2021, 1, 15)  # a Friday; Saturday 9th and Sunday 10th are closed
DAYS = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
OPEN_DAYS = [day for day in DAYS if day.weekday() < 5]
SHORT_ABANDON = 5
SERVICE_LEVEL = {"voice": 20, "chat": 60}
AGENTS = [f"PJSIP/{2000 + n}" for n in range(8)]
NEVER_LEAVES = "1609750800.999"  # enters a queue on the 4th at 09:00 and is never heard of again


def _epoch(day: date, seconds: int) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) + seconds


def write_queue_log(path: Path, calls_a_day: int = 140, seed: int = 14) -> int:
    """A queue_log of ``calls_a_day`` calls each open day; how many lines."""
    rng = random.Random(seed)
    lines: list[tuple[int, int, str]] = []  # (time, order, line)

    def add(at: int, callid: str, queue: str, agent: str, event: str, *data: object) -> None:
        text = "|".join([str(at), callid, queue, agent, event, *map(str, data)])
        lines.append((at, len(lines), text))

    for day in OPEN_DAYS:
        for agent in AGENTS:
            add(_epoch(day, 8 * 3600 - 60), "NONE", "NONE", agent, "AGENTLOGIN", agent)
            add(_epoch(day, 12 * 3600), "NONE", "support", agent, "PAUSE", "lunch")
            add(_epoch(day, 12 * 3600 + 1800), "NONE", "support", agent, "UNPAUSE", "")
            add(_epoch(day, 19 * 3600), "NONE", "NONE", agent, "AGENTLOGOFF", agent, 39660)
        for n in range(calls_a_day):
            start = _epoch(day, 8 * 3600 + rng.randrange(10 * 3600))
            callid = f"{start}.{n}"
            queue = rng.choice(["support", "billing"])
            caller = f"06{rng.randrange(10**8):08d}"
            kind = rng.random()
            if kind < 0.02:
                add(start, callid, queue, "NONE", rng.choice(["FULL", "JOINEMPTY", "CLOSED"]))
                continue
            add(start, callid, queue, "NONE", "ENTERQUEUE", "", caller, 1)
            agent = rng.choice(AGENTS)
            wait = rng.randrange(1, 90)
            if kind < 0.17:
                add(start + wait, callid, queue, "NONE", "ABANDON", 1, 1, wait)
            elif kind < 0.22:
                add(start + 300, callid, queue, "NONE", "EXITWITHTIMEOUT", 1, 1, 300)
            elif kind < 0.26:
                talk, talk2, wait2 = rng.randrange(20, 200), rng.randrange(20, 400), 5
                at = start + wait
                add(at, callid, queue, agent, "CONNECT", wait, f"{at}.9", 3)
                end = at + talk
                add(end, callid, queue, agent, "BLINDTRANSFER", 700, "q", wait, talk, 1)
                add(end + 1, callid, "billing", "NONE", "ENTERQUEUE", "", caller, 1)
                other = rng.choice(AGENTS)
                add(end + 1 + wait2, callid, "billing", other, "CONNECT", wait2, "x", 2)
                add(end + 1 + wait2 + talk2, callid, "billing", other, "COMPLETEAGENT",
                    wait2, talk2, 1)  # fmt: skip
            else:
                talk = rng.randrange(20, 600)
                add(start + wait, callid, queue, agent, "CONNECT", wait, f"{start}.9", 4)
                who = rng.choice(["COMPLETEAGENT", "COMPLETECALLER"])
                add(start + wait + talk, callid, queue, agent, who, wait, talk, 1)
    add(_epoch(FIRST, 9 * 3600), NEVER_LEAVES, "support", "NONE", "ENTERQUEUE", "", "0611111111", 1)
    lines.sort()
    text = [line for _, _, line in lines]
    # what a real log also holds: a line cut by a crash, and an event of a newer Asterisk
    text.insert(len(text) // 3, f"{_epoch(FIRST, 12 * 3600)}|1609761600.5|support")
    text.insert(len(text) // 2, f"{_epoch(date(2021, 1, 11), 10 * 3600)}|x.1|support|NONE|BOGUS|1")
    path.write_text("".join(f"{line}\n" for line in text))
    return len(text)


CSV_HEADER = [
    "call_id", "start_time", "queue", "agent", "answered", "wait_seconds", "talk_seconds",
    "hold_seconds", "acw_seconds", "resolved", "csat", "nps", "customer_id", "channel",
]  # fmt: skip


def write_call_log(path: Path, rows_a_day: int = 220, seed: int = 21) -> int:
    """A call-log CSV as an Excel user saves it (BOM, CRLF), ``rows_a_day`` contacts each open
    day, two unreadable rows; how many data rows."""
    rng = random.Random(seed)
    rows = []
    for day in OPEN_DAYS:
        for n in range(rows_a_day):
            start = datetime(day.year, day.month, day.day, 8, tzinfo=UTC) + timedelta(
                seconds=rng.randrange(10 * 3600)
            )
            channel = "chat" if rng.random() < 0.2 else "voice"
            answered = rng.random() < 0.85
            wait = rng.randrange(1, 120)
            survey = answered and rng.random() < 0.3
            rows.append(
                [
                    f"{day:%Y%m%d}-{n:04d}",
                    start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    rng.choice(["sales", "care"]),
                    rng.choice(["ana", "ben", "chloe", "dev"]) if answered else "",
                    "yes" if answered else "no",
                    str(wait),
                    f"{rng.randrange(30, 1500):,}" if answered else "",
                    str(rng.choice([0, 0, 15, 40])) if answered else "",
                    str(rng.randrange(0, 90)) if answered else "",
                    rng.choice(["yes", "no"]) if answered else "",
                    str(rng.randrange(1, 6)) if survey else "",
                    str(rng.randrange(0, 11)) if survey else "",
                    f"C{rng.randrange(400):05d}",
                    channel,
                ]
            )
    rows.insert(
        100, ["BAD-1", "04/01/2021 25:00", "sales", "", "no", "5", *[""] * 6, "C1", "voice"]
    )
    rows.insert(900, ["BAD-2", "2021-01-06T10:00:00Z", "care", "ana", "yes", "5", "60", "0",
                      "0", "yes", "5", "12", "C2", "voice"])  # fmt: skip
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_HEADER)
        writer.writerows(rows)
    return len(rows)


class Tally:
    """The counts and sums of the contact KPIs of one tenant."""

    def __init__(self) -> None:
        self.offered = self.answered = self.met = self.abandoned = self.handled = 0
        self.asa_sum = self.handle_sum = 0.0
        self.csat: list[int] = []
        self.nps: list[int] = []

    def answer(self, wait: float, threshold: float) -> None:
        self.answered += 1
        self.asa_sum += wait
        self.met += wait <= threshold

    def kpis(self) -> dict[str, float]:
        out = {
            "offered.v1": self.offered,
            "asa.v1": self.asa_sum / self.answered,
            "service_level.v1": self.met / (self.answered + self.abandoned),
            "abandon_rate.v1": self.abandoned / self.offered,
            "aht.v1": self.handle_sum / self.handled,
        }
        if self.csat:
            out["csat.v1"] = sum(score >= 4 for score in self.csat) / len(self.csat)
            promoters = sum(score >= 9 for score in self.nps)
            detractors = sum(score <= 6 for score in self.nps)
            out["nps.v1"] = 100 * (promoters - detractors) / len(self.nps)
        return out


def queue_log_kpis(path: Path) -> dict[str, float]:
    """The contact KPIs of a queue_log, from its lines: a call's wait is its first CONNECT's
    holdtime; its handle time runs from that answer to its last COMPLETE (the calltimes and the
    wait between agents); an ABANDON's waittime under 5 s is a short abandon."""
    calls: dict[str, list[list[str]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        fields = line.split("|")
        if len(fields) >= 5 and fields[4] in {
            "ENTERQUEUE", "CONNECT", "COMPLETEAGENT", "COMPLETECALLER", "ABANDON",
        }:  # fmt: skip
            calls[fields[1]].append(fields)
    tally = Tally()
    for lines in calls.values():
        events = {fields[4]: fields for fields in reversed(lines)}  # the first of each
        short = "ABANDON" in events and int(events["ABANDON"][7]) < SHORT_ABANDON
        tally.offered += "ENTERQUEUE" in events and not short
        if "ABANDON" in events and not short:
            tally.abandoned += 1
        if "CONNECT" in events:
            connect = events["CONNECT"]
            tally.answer(int(connect[5]), SERVICE_LEVEL["voice"])
            last = next(f for f in reversed(lines) if f[4].startswith("COMPLETE"))
            answered_at = int(connect[0])
            tally.handled += 1
            tally.handle_sum += int(last[0]) - answered_at
    return tally.kpis()


def call_log_kpis(path: Path) -> dict[str, float]:
    """The contact and survey KPIs of the call-log CSV, from its rows (rows with an unreadable
    start or an NPS off 0-10 left out, as the importer rejects them)."""
    tally = Tally()
    with path.open(encoding="utf-8-sig", newline="") as rows:
        for row in csv.DictReader(rows):
            try:
                datetime.fromisoformat(row["start_time"])
            except ValueError:
                continue
            if row["nps"] and not 0 <= int(row["nps"]) <= 10:
                continue
            wait = float(row["wait_seconds"])
            threshold = SERVICE_LEVEL[row["channel"]]
            if row["answered"] == "yes":
                tally.offered += 1
                tally.answer(wait, threshold)
                tally.handled += 1
                tally.handle_sum += sum(
                    float(row[name].replace(",", "") or 0)
                    for name in ("talk_seconds", "hold_seconds", "acw_seconds")
                )
                if row["csat"]:
                    tally.csat.append(int(row["csat"]))
                    tally.nps.append(int(row["nps"]))
            elif wait >= SHORT_ABANDON:
                tally.offered += 1
                tally.abandoned += 1
    return tally.kpis()
