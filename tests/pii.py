"""The personal-data key of the test suite: set explicitly, since omnicx has no built-in key."""

from __future__ import annotations

from schemas.settings import Settings, load_settings, with_overrides

TEST_PII_KEY = "omnicx-test-suite-key"


def keyed_settings(**sections) -> Settings:
    """Defaults (no file, no environment) with the test key and ``sections`` overridden."""
    return with_overrides(
        load_settings(environ={}, config_file=None), pii_key=TEST_PII_KEY, **sections
    )
