"""The call-log CSV importer with the example mappings of docs/mappings/, each contact's KPI
inputs computed by hand and compared with the stream's own fold of the imported events."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.importers.framework import ImportFailed
from tests.harness import REPO
from tests.pipelines.importing import by_type, contacts, imported, seconds_between

CALL_LOG = REPO / "docs" / "mappings" / "call-log.toml"
EXCEL_FR = REPO / "docs" / "mappings" / "excel-fr.toml"
HEADER = (
    "call_id,start_time,queue,agent,answered,wait_seconds,talk_seconds,hold_seconds,"
    "acw_seconds,resolved,csat,nps,customer_id,channel"
)


def write(tmp_path: Path, text: str, name: str = "calls.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_a_handled_call_gives_asa_talk_hold_and_wrap_up_as_written(tmp_path: Path) -> None:
    """Wait 15 s, hold 30 s, talk 240 s, wrap-up 60 s: ASA 15 s, handle time 330 s."""
    path = write(
        tmp_path,
        f"{HEADER}\nA-1,2021-03-02T09:00:00Z,billing,ag-7,yes,15,240,30,60,yes,4,9,CUST-1,voice\n",
    )
    events, rejections = imported("csv", path, mapping=CALL_LOG)
    assert rejections == []
    (contact,) = contacts(events).values()
    assert seconds_between(contact["answered_at"], contact["first_queued_at"]) == 15
    assert (contact["talk_seconds"], contact["hold_seconds"], contact["acw_seconds"]) == (
        240,
        30,
        60,
    )
    assert contact["disposition"] == "resolved"
    assert (contact["csat"], contact["nps"]) == (4, 9)
    assert contact["queues"] == ["billing"] and contact["agents"] == ["ag-7"]
    assert contact["started_at"] == "2021-03-02T09:00:00.000Z" and contact["customer_ids"]


def test_an_unanswered_row_is_an_abandon_after_its_wait(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"{HEADER}\n"
        "A-2,2021-03-02T09:05:00Z,billing,,no,45,,,,,,,CUST-2,voice\n"
        "A-3,2021-03-02T09:06:00Z,billing,,no,3,,,,,,,CUST-3,voice\n",
    )
    facts = contacts(imported("csv", path, mapping=CALL_LOG)[0])
    long, short = sorted(facts.values(), key=lambda c: c["first_queued_at"])
    assert long["abandoned"] and not long["short_abandon"]
    assert seconds_between(long["abandoned_at"], long["first_queued_at"]) == 45
    assert short["short_abandon"] and long["answered_at"] is None


def test_an_excel_export_with_bom_sep_line_crlf_semicolons_and_local_times(
    tmp_path: Path,
) -> None:
    """cp1252 (Excel on a French Windows) with its "sep=;" line, CRLF, a blank queue cell, an
    extra unnamed column, a cell beyond the header, H:MM:SS and thousands separators; Paris
    time on the day clocks went forward (02:00 -> 03:00 on 2021-03-28)."""
    header = (
        "N° appel;Date;Heure;File;Conseiller;Décroché;Attente;Durée communication;"
        "Durée attente agent;Post-appel;Résolu;Note /10;Commentaire"
    )
    rows = [
        "1001;28/03/2021;01:59:00;accueil;Zoé;Oui;0:00:12;0:03:20;0:00:00;0:00:40;Oui;8;rien",
        "1002;28/03/2021;03:01:00;;Zoé;Oui;20;1 234;;;Non;;;;surplus",
        "",
        "1003;28/03/2021;10:00:00;accueil;;Non;0:01:05;;;;;;",
    ]
    path = write(tmp_path, "sep=;\r\n" + "\r\n".join([header, *rows]) + "\r\n", encoding="cp1252")
    events, rejections = imported("csv", path, mapping=EXCEL_FR)
    assert rejections == []
    facts = sorted(contacts(events).values(), key=lambda c: c["first_queued_at"])
    first, second, third = facts
    assert first["first_queued_at"] == "2021-03-28T00:59:00.000Z"  # CET, UTC+1
    assert second["first_queued_at"] == "2021-03-28T01:01:00.000Z"  # CEST, UTC+2
    assert (first["talk_seconds"], first["acw_seconds"], first["csat"]) == (200, 40, 4)
    assert first["disposition"] == "resolved" and second["disposition"] == "unresolved"
    assert second["talk_seconds"] == 1234 and second["queues"] == ["accueil"]
    assert third["abandoned"] and not third["short_abandon"]
    assert all(c["customer_ids"] == [] for c in facts)  # no customer column: no journeys
    assert "contact.started" not in by_type(events)


def test_bad_rows_are_rejected_with_line_and_reason_and_the_rest_imported(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        f"\ufeff{HEADER}\n"
        "B-1,2021-03-02T09:00:00Z,billing,ag-7,yes,15,240,0,0,yes,,,CUST-1,voice\n"
        "B-2,March the 2nd,billing,ag-7,yes,15,240,0,0,yes,,,CUST-2,voice\n"
        "B-3,2021-03-02T09:10:00Z,billing,ag-7,yes,15,four minutes,0,0,yes,,,CUST-3,voice\n"
        "B-4,2021-03-02T09:20:00Z,billing,ag-7,yes,15,240,0,0,yes,,11,CUST-4,voice\n"
        "B-5,2021-03-02T09:30:00Z,billing,ag-7,yes,15,240,0,0,maybe,,,CUST-5,voice\n"
        "B-6,2021-03-02T09:40:00Z,billing,ag-7,yes,15,240,0,0,yes,,,CUST-6,fax\n",
    )
    events, rejections = imported("csv", path, mapping=CALL_LOG)
    assert [(r.line, r.reason, r.detail) for r in rejections] == [
        (3, "unreadable date or time", "start"),
        (4, "unreadable duration", "talk"),
        (5, "NPS answer not 0-10", "nps"),
        (6, "unreadable yes/no", "resolved"),
        (7, "unknown channel", "channel"),
    ]
    assert not any("CUST" in r.message for r in rejections)  # the reasons hold no values
    assert len(contacts(events)) == 1  # a bad row gives no partial contact


def test_the_same_file_imported_twice_gives_the_same_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"{HEADER}\nC-1,2021-03-02T09:00:00Z,billing,ag-7,yes,15,240,0,0,yes,,,CUST-1,chat\n",
    )
    first = imported("csv", path, mapping=CALL_LOG)[0]
    assert first == imported("csv", path, mapping=CALL_LOG)[0]
    assert {e["channel"] for e in first} == {"chat"}


def test_mappings_that_cannot_be_used_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\n")
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[columns]\nstart = "start_time"\ncaller = "x"\n')
    with pytest.raises(ImportFailed, match=r"unknown keys \['caller'\]"):
        imported("csv", path, mapping=wrong)
    absent = tmp_path / "absent.toml"
    absent.write_text('[columns]\nstart = "Beginning"\n')
    with pytest.raises(ImportFailed, match="no column 'Beginning'"):
        imported("csv", path, mapping=absent)
    with pytest.raises(ImportFailed, match="needs --mapping"):
        imported("csv", path)
