"""The fixed sets of values CLI options take, as str enums: `--help` lists them, typer rejects others.

They are declared here, not imported from the jobs that define them, so that the command line
loads nothing heavy to build itself; tests/unit/test_cli_fast.py checks each against its source.
"""

from __future__ import annotations

from enum import StrEnum


class Scale(StrEnum):
    """World sizes (``livecart.simulation.world.config.SCALES``)."""

    TINY = "tiny"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class Language(StrEnum):
    """Languages of the synthetic texts (``livecart.simulation.world.text.Language``)."""

    EN = "en"
    ZH = "zh"


class InteractionsFormat(StrEnum):
    """Layouts of an interactions file (``ray_jobs.ingest.interactions.InteractionsFormat``)."""

    AUTO = "auto"
    CSV = "csv"
    PARQUET = "parquet"
    WHITESPACE = "whitespace"


class IngestPreset(StrEnum):
    """Presets of `ingest tables` (``ray_jobs.ingest.presets.PRESETS``)."""

    TWITCH = "twitch"
    INTERACTIONS = "interactions"


class Protocol(StrEnum):
    """Evaluation protocols (``ray_jobs.evaluation.protocols.ProtocolName``)."""

    FULL = "full"
    LIVE_NOW = "live_now"
    SAMPLED = "sampled"


class EvalModel(StrEnum):
    """Models `livecart evaluate` compares (``ray_jobs.evaluation.runner.MODELS``)."""

    POP = "pop"
    REP = "rep"
    ITEMCF = "itemcf"
    BPR = "bpr"
    SASREC = "sasrec"
    TWOTOWER = "twotower"
    LIVECART = "livecart"
    LIVECART_STRICT = "livecart-strict"
    SERVED = "served"


class RankerKind(StrEnum):
    """Which ranker `livecart train` trains (``products``: the fusion ranker)."""

    PRODUCTS = "products"
    ROOMS = "rooms"


class EncoderFinetune(StrEnum):
    """Text-encoder fine-tuning before training: none, or ``FinetuneConfig.layers``."""

    NONE = "none"
    LAST = "last"
    FULL = "full"


class ServeLayout(StrEnum):
    """Serving layouts `livecart bench serve` sweeps (``serving.runner.start(split_ranker=...)``)."""

    IN_PROCESS = "in_process"
    SPLIT_RANKER = "split_ranker"


def listed(choices: type[StrEnum]) -> str:
    """``a | b | c``: the values of ``choices``, for help texts and messages."""
    return " | ".join(c.value for c in choices)
