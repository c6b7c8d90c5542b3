"""The grouping of tests/conftest.py reaches pytest-xdist's scheduler: a file's tests are one
unit of work, so that a module's costly fixture is paid once (it silently stopped with pytest
9.2, pytest-xdist issue #1386, and with a conftest hook that ran after xdist's)."""

import pytest


def test_a_files_tests_are_one_unit_of_work(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("xdist_group")
    assert marker is not None and marker.args == ("test_grouping.py",)
    if hasattr(request.config, "workerinput"):  # a pytest-xdist worker: what its scheduler reads
        assert request.node.nodeid.endswith(
            "::test_a_files_tests_are_one_unit_of_work@test_grouping.py"
        )
