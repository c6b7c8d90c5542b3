"""Great Expectations' Data Docs page views, with one jinja environment per process.

GX builds a new jinja ``Environment`` for every view it instantiates, and every validation
(a fresh ephemeral context, ``gx_validation.validate``) instantiates new views, so each of a
refresh's checks compiled the same ~50 templates again: a quarter of a refresh's time. These
views are GX's own (``DefaultJinjaPageView``, ``DefaultJinjaIndexPageView``), named in the
site's configuration (``site_section_builders``, ``site_index_builder``); the first instance
of each class builds the environment and later ones reuse it with its compiled templates. The
pages are the same: an environment holds the templates, filters and globals GX's
``__init__`` gives it, and the filters read nothing of the instance but the two custom
directories, which are part of the key.
"""

from __future__ import annotations

from typing import Any

from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView

_environments: dict[tuple[type, str | None, str | None], Any] = {}


class _SharedEnvironment:
    def __init__(self, custom_styles_directory=None, custom_views_directory=None) -> None:
        key = (type(self), custom_styles_directory, custom_views_directory)
        shared = _environments.get(key)
        if shared is None:
            super().__init__(custom_styles_directory, custom_views_directory)
            _environments[key] = self.env
        else:
            self.custom_styles_directory = custom_styles_directory
            self.custom_views_directory = custom_views_directory
            self.env = shared


class PageView(_SharedEnvironment, DefaultJinjaPageView):
    """The page of a suite or of a validation result."""


class IndexPageView(_SharedEnvironment, DefaultJinjaIndexPageView):
    """The index page."""
