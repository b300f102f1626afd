"""The region catalog: loading and validating the TOML file that configures a region."""

from __future__ import annotations

from coldshift.catalog.loader import (
    DEFAULT_CATALOG_PATH,
    CatalogError,
    load_catalog,
    load_default_catalog,
    parse_catalog,
)

__all__ = [
    "DEFAULT_CATALOG_PATH",
    "CatalogError",
    "load_catalog",
    "load_default_catalog",
    "parse_catalog",
]
