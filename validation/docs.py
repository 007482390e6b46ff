"""Great Expectations Data Docs: static HTML pages of the suites and of each validated batch.

The site lives in ``settings.reports_dir / "data_docs"``. It is rebuilt from the run's in-memory
validation results, and GX's index builder drops pages of results it no longer holds, so the site
always shows the latest run only (older runs would otherwise pile up unindexed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import great_expectations as gx
from great_expectations.data_context.data_context.abstract_data_context import (
    AbstractDataContext,
)
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

SITE_NAME: Final = "livecart"
INDEX_FILE: Final = "index.html"


def ephemeral_context() -> AbstractDataContext:
    """A quiet in-memory GX context (no analytics, no progress bars, no default docs site)."""
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def data_docs_dir(reports_dir: Path) -> Path:
    """Where the Data Docs site of a data directory is written."""
    return reports_dir / "data_docs"


def add_docs_site(context: AbstractDataContext, directory: Path) -> None:
    """Register a filesystem Data Docs site rooted at ``directory`` (created on first build)."""
    context.add_data_docs_site(
        site_name=SITE_NAME,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(directory),
            },
            "site_index_builder": {
                "class_name": "DefaultSiteIndexBuilder",
                "show_how_to_buttons": False,
            },
        },
    )


def build_docs(context: AbstractDataContext, directory: Path) -> Path:
    """Render suites, stored validation results and the index; return the index.html path."""
    directory.mkdir(parents=True, exist_ok=True)
    context.build_data_docs(site_names=[SITE_NAME])
    return directory / INDEX_FILE
