"""Great Expectations' Data Docs page views, with one jinja environment per process, and its
site builder, copying GX's static files into the site once.

GX builds a new jinja ``Environment`` for every view it instantiates, and every Data Docs
build (``build_data_docs``: one per check) instantiates a site builder with new views, so each
of a refresh's checks compiled the same ~50 templates again: a quarter of a refresh's time. These
views are GX's own (``DefaultJinjaPageView``, ``DefaultJinjaIndexPageView``), named in the
site's configuration (``site_section_builders``, ``site_index_builder``); the first instance
of each class builds the environment and later ones reuse it with its compiled templates. The
pages are the same: an environment holds the templates, filters and globals GX's
``__init__`` gives it, and the filters read nothing of the instance but the two custom
directories, which are part of the key.

GX's ``SiteBuilder`` copies its static files (styles, scripts, fonts, images) into the site at
every build, once per check: half the time of rendering a validation's page. ``SiteBuilder``
here copies them when the site lacks those of the installed GX version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import great_expectations
from great_expectations.render.renderer.site_builder import SiteBuilder as GxSiteBuilder
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


class SiteBuilder(GxSiteBuilder):
    """GX's site builder, whose store copies GX's static files only when the site lacks those
    of this GX version (a marker file under ``static/`` says it has them)."""

    # GX passes ``data_context`` and ``runtime_environment`` to the parameters it sees named
    def __init__(
        self, data_context: Any, store_backend: dict, runtime_environment: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(
            data_context, store_backend, runtime_environment=runtime_environment, **kwargs
        )
        store = self.target_store
        copy_all = store.copy_static_assets
        marker = (
            Path(store_backend["base_directory"])
            / "static"
            / f".copied-by-great-expectations-{great_expectations.__version__}"
        )

        def copy_once(static_assets_source_dir: str | None = None) -> None:
            # GX recurses through this attribute with a directory: copy those calls
            if static_assets_source_dir is not None:
                copy_all(static_assets_source_dir)
            elif not marker.exists():
                copy_all()
                marker.touch()

        store.copy_static_assets = copy_once
