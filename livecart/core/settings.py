"""The one settings object every livecart job, the Feast repo and serving read.

Values come from environment variables (``LIVECART_*``) and an optional ``.env`` file. The data
directory defaults to ``./.livecart`` and is overridden by ``LIVECART_HOME``. Nothing is read or
created at import time: call :func:`get_settings` (or build :class:`LivecartSettings` directly).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # livecart/core/settings.py -> the repo
FEATURE_REPO_DIR = PROJECT_ROOT / "feature_repo"


class LivecartSettings(BaseSettings):
    """Where data lives, which Ray to use, how strict the gates are, where models are."""

    model_config = SettingsConfigDict(
        env_prefix="LIVECART_", env_file=".env", extra="forbid", frozen=True
    )

    home: Path = Field(
        default=Path(".livecart"),
        description="Data directory for raw data, features, Feast registry and stores, reports.",
    )
    ray_address: str | None = Field(
        default=None,
        description="Ray cluster address (for example ray://head:10001 or 'auto'); None starts a local Ray.",
    )
    ray_num_cpus: int | None = Field(
        default=None, description="CPUs for a local Ray (None: all). Ignored with ray_address."
    )
    feature_repo: Path = Field(default=FEATURE_REPO_DIR, description="The Feast repo directory.")
    id_salt: SecretStr = Field(
        default=SecretStr("livecart-dev-salt-change-me"),
        description="Secret salt for pseudonymising external viewer ids (set it in production).",
    )
    hash_viewer_ids: bool = Field(
        default=False, description="Hash external viewer ids with id_salt at ingestion."
    )
    max_quarantine_fraction: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description="A batch whose quarantined share passes this blocks the job.",
    )
    max_text_chars: int = Field(default=2000, gt=0, description="Longest accepted comment/title.")
    max_future_skew_seconds: float = Field(
        default=300.0, ge=0.0, description="Event timestamps later than now + this are rejected."
    )
    encoder_path: Path | None = Field(
        default=None,
        description="Local Hugging Face model directory for the text encoder (None: bundled MiniLM).",
    )
    embedding_dim: int = Field(
        default=384, gt=0, description="Width of item text embeddings (the encoder's hidden size)."
    )
    model_dir: Path | None = Field(
        default=None, description="Model registry directory (None: <home>/models)."
    )

    # Serving (Ray Serve): limits, tokens, stage budgets, exploration.
    serve_host: str = Field(default="127.0.0.1", description="HTTP host of the Serve proxy.")
    serve_port: int = Field(
        default=8000, gt=0, lt=65536, description="HTTP port of the Serve proxy."
    )
    serve_replicas: int = Field(
        default=1, gt=0, description="Replicas of the recommend deployment."
    )
    serve_router: Literal["warm_first", "power_of_two"] = Field(
        default="warm_first",
        description="How the proxy picks a recommend replica: Serve's power of two choices, with "
        "ties to the same replica (warm_first, keeps one replica's caches hot at low load) or at "
        "random (power_of_two, Serve's default).",
    )
    serve_replica_cpus: float = Field(
        default=0.5, gt=0, description="CPUs per recommend replica (fractional on small machines)."
    )
    api_token: SecretStr = Field(
        default=SecretStr("livecart-dev-token-change-me"),
        description="Bearer token for write endpoints (/v1/events, model reload).",
    )
    protect_reads: bool = Field(
        default=False, description="Require the bearer token on the recommend endpoints too."
    )
    max_k: int = Field(default=50, gt=0, description="Largest k a recommend request may ask for.")
    max_events_per_request: int = Field(default=1000, gt=0)
    candidates_per_request: int = Field(
        default=500, gt=0, description="Candidates scored per viewer request (after dedup)."
    )
    feature_timeout_ms: float = Field(
        default=1000.0,
        gt=0,
        description="Budget of the feature fetch; past it, popularity fallback.",
    )
    gate_pass_workers: int = Field(
        default=1,
        ge=0,
        le=8,
        description="Processes beside the event ingest replica that each validate a share of "
        "the GX suite's first pass of a POST /v1/events batch, so the verdict comes sooner when "
        "a core is free (0: the replica validates the whole suite itself).",
    )
    store_follow_ms: float = Field(
        default=5.0,
        gt=0,
        description="How often a recommend replica checks the online store for commits; its "
        "requests then read memory only (past feature_timeout_ms without a check: fallback).",
    )
    vector_refresh_s: float = Field(
        default=60.0,
        gt=0,
        description="On an online store other than livecart's, how often a replica's ANN index "
        "of product embeddings reads them again (livecart's store is followed commit by commit).",
    )
    redis_near_cache_s: float = Field(
        default=0.5,
        ge=0,
        description="On Redis, how long a recommend replica keeps the rows of views not keyed by "
        "the viewer (products, rooms, streamers; what events change there shows within it); "
        "0: every request reads every view.",
    )
    rank_timeout_ms: float = Field(default=1000.0, gt=0, description="Budget of the ranking stage.")
    batch_max_size: int = Field(
        default=8, gt=0, description="Most requests a replica prepares and ranks as one batch."
    )
    batch_wait_ms: float = Field(
        default=0.0,
        ge=0,
        description="Longest wait to fill a batch; 0 takes at once what is queued "
        "(requests arriving while a batch is prepared and ranked form the next one).",
    )
    exploration_budget: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Share of recommended slots filled by Thompson sampling.",
    )
    exploration_prior_strength: float = Field(
        default=20.0, gt=0, description="Pseudo-impressions behind the model's click estimate."
    )
    live_window_minutes: int = Field(
        default=30, gt=0, description="A room with events this recent counts as live."
    )
    model_poll_seconds: float = Field(
        default=2.0, gt=0, description="How often replicas look for a newly promoted model."
    )
    historical_chunk_rows: int = Field(
        default=250_000,
        gt=0,
        description="Entity rows per Feast point-in-time join (training examples): bounds memory. "
        "Each join scans its views' whole tables, so fewer, larger parts keep staging linear in "
        "the log (README, 'The pipeline by world size').",
    )
    mlflow: bool = Field(
        default=True,
        description="Record train and evaluate runs in MLflow (MLFLOW_TRACKING_URI, else SQLite "
        "in <home>/mlflow; livecart/core/tracking.py).",
    )

    @field_validator("home", "feature_repo")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    # Layout of the data directory, defined once.
    @property
    def raw_dir(self) -> Path:
        return self.home / "raw"

    @property
    def clean_dir(self) -> Path:
        return self.home / "clean"

    @property
    def quarantine_dir(self) -> Path:
        return self.home / "quarantine"

    @property
    def truth_dir(self) -> Path:
        return self.home / "truth"

    @property
    def features_dir(self) -> Path:
        return self.home / "features"

    def feature_table_path(self, table: str) -> Path:
        """The Parquet file of feature table ``table`` (a FeatureTable value), defined once."""
        return self.features_dir / f"{table}.parquet"

    @property
    def feast_dir(self) -> Path:
        return self.home / "feast"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def models_dir(self) -> Path:
        return self.model_dir if self.model_dir is not None else self.home / "models"

    def export_env(self) -> None:
        """Expose the resolved home to Feast, whose feature_store.yaml expands ``${LIVECART_HOME}``."""
        os.environ["LIVECART_HOME"] = str(self.home)


@lru_cache(maxsize=1)
def get_settings() -> LivecartSettings:
    """The process-wide settings, read from the environment on first use."""
    return LivecartSettings()
