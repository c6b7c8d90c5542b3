"""The command lines of ``omnicx erase`` and ``omnicx tenants remove`` before they touch anything:
identifiers parsed as the stream normalises them, usage errors, the confirmation."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestration.cli import EXIT_USAGE, main
from orchestration.erasure import ErasureError, identifiers_file, parse_identifier


def test_identifiers_are_normalised_as_the_stream_normalises_them() -> None:
    assert parse_identifier("phone=06 12 34 56 78") == ("phone", "+33612345678")
    assert parse_identifier("email= Ana@Example.FR") == ("email", "ana@example.fr")
    with pytest.raises(ErasureError, match="KIND=VALUE"):
        parse_identifier("fax=0123456789")
    with pytest.raises(ErasureError, match="not usable"):
        parse_identifier("phone=0000000000")  # a placeholder would erase nobody, or everybody


def test_a_file_of_identifiers_skips_blank_lines_and_comments(tmp_path: Path) -> None:
    requests = tmp_path / "requests.txt"
    requests.write_text("# ticket 4411\nphone=+33612345678\n\nemail=a@b.fr\n")
    assert identifiers_file(requests) == ["phone=+33612345678", "email=a@b.fr"]


def test_erase_needs_an_identifier_it_can_use(tmp_path: Path) -> None:
    home = ["--home", str(tmp_path)]
    none = CliRunner().invoke(main, [*home, "erase", "--tenant", "acme"], prog_name="omnicx")
    assert none.exit_code == EXIT_USAGE
    assert "at least one --identifier" in none.output
    bad = CliRunner().invoke(
        main, [*home, "erase", "--tenant", "acme", "--identifier", "phone"], prog_name="omnicx"
    )
    assert bad.exit_code == EXIT_USAGE
    assert "KIND=VALUE" in bad.output
    assert not (tmp_path / "erasure").exists()


def test_removing_a_tenant_asks_first_and_does_nothing_when_told_no(tmp_path: Path) -> None:
    outcome = CliRunner().invoke(
        main,
        ["--home", str(tmp_path), "tenants", "remove", "acme"],
        input="n\n",
        prog_name="omnicx",
    )
    assert "Delete every record of tenant 'acme'" in outcome.output
    assert outcome.exit_code != 0
    assert not (tmp_path / "erasure").exists()
