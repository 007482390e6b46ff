"""livecart's room ranker in the evaluation: fitted here (``livecart``) or the registered one
(``served``), both through :mod:`livecart.model.room_ranker`, the code serving ranks rooms with.

``livecart`` fits the ranker in-process on the evaluation's training split. ``served`` loads a
version of ``room_ranker`` from the registry (what ``livecart train --ranker rooms`` trained on Ray
Train and the replicas load) and only checks that it never saw the rows this evaluation holds out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from livecart.core.arrays import FloatArray, IntArray
from livecart.core.errors import StageError
from livecart.core.settings import LivecartSettings
from livecart.model.interaction_log import Interactions
from livecart.model.room_queries import QueryConfig, history_of, signal_spread, training_queries
from livecart.model.room_ranker import DEFAULT_HIDDEN, ROOM_RANKER, RoomScorer, fit_in_process
from livecart.model.room_signals import FeatureConfig, ItemCooccurrence, LiveContext
from ray_jobs.evaluation.base import history_before


@dataclass(frozen=True)
class LiveRankerConfig:
    """What the ranker sees and how it trains; the defaults fit Twitch in about a minute."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    queries_per_user: int = 8
    random_negatives: int = 32
    hard_negatives: int = 50
    hidden: tuple[int, ...] = DEFAULT_HIDDEN
    epochs: int = 8
    batch_queries: int = 256
    learning_rate: float = 1e-3
    seed: int = 0
    progress: bool = True

    def queries(self) -> QueryConfig:
        return QueryConfig(
            features=self.features,
            queries_per_user=self.queries_per_user,
            random_negatives=self.random_negatives,
            hard_negatives=self.hard_negatives,
            seed=self.seed,
        )


class _ScoresRooms:
    """Scoring shared by both rows: the fitted scorer, fed histories from the training split and
    other users' rows from the observed log."""

    name: str
    signals: dict[str, list[str]] | None = None
    _scorer: RoomScorer | None = None
    _train: Interactions | None = None
    _log: Interactions | None = None

    @property
    def scorer(self) -> RoomScorer:
        if self._scorer is None:
            raise RuntimeError("fit the model first")
        return self._scorer

    def observe(self, log: Interactions) -> None:
        self._log = log

    def score(self, users: IntArray, at_times: IntArray) -> FloatArray:
        if self._scorer is None or self._train is None:
            raise RuntimeError("fit the model first")
        train = self._train
        log = self._log if self._log is not None else train
        histories = [
            history_of(train, int(user), history_before(train, int(user), int(t)))
            for user, t in zip(users, at_times, strict=True)
        ]
        return self._scorer.score(
            histories, users, at_times, LiveContext(log, self._scorer.features)
        )


class LiveRanker(_ScoresRooms):
    """The room ranker fitted in-process on the evaluation's training split."""

    def __init__(self, config: LiveRankerConfig | None = None, name: str | None = None) -> None:
        self.config = config or LiveRankerConfig()
        strict = "" if self.config.features.include_current else "-strict"
        self.name = name or f"livecart{strict}"

    def fit(self, train: Interactions) -> None:
        cfg = self.config
        data = training_queries(train, cfg.queries(), cfg.progress)
        net = fit_in_process(
            data,
            len(cfg.features.names()),
            cfg.hidden,
            cfg.epochs,
            cfg.batch_queries,
            cfg.learning_rate,
            cfg.seed,
        )
        cooccurrence = ItemCooccurrence(train) if cfg.features.collaborative else None
        self._scorer = RoomScorer(net, cfg.features, train.item_ids, cooccurrence)
        self._train = train
        self.signals = signal_spread(data, cfg.features)


class ServedRanker(_ScoresRooms):
    """The registered room ranker (``version`` None: the one serving loads)."""

    def __init__(self, settings: LivecartSettings, version: int | None = None) -> None:
        self.settings = settings
        self.version = version
        self.name = "served" if version is None else f"served@{version}"

    def fit(self, train: Interactions) -> None:
        """Load, never train: check the model held out what this evaluation holds out."""
        from livecart.model import registry

        if self.version is None:
            self.version = registry.serving_version(self.settings, ROOM_RANKER)
        record, state = registry.load(self.settings, ROOM_RANKER, self.version)
        seen = record.metadata.get("train_rows")
        if record.metadata.get("holdout") != "last" or seen != len(train):
            raise StageError(
                "evaluate",
                f"{ROOM_RANKER} v{record.version} was trained on {seen} rows with holdout "
                f"{record.metadata.get('holdout')!r}; this evaluation's training split has "
                f"{len(train)} rows (each user's last one held out)",
                "train it on this data with `livecart train --ranker rooms` (holdout: last)",
            )
        scorer = RoomScorer.from_registry(record.config, state)
        if scorer.item_ids != train.item_ids:
            raise StageError(
                "evaluate",
                f"{ROOM_RANKER} v{record.version} knows {len(scorer.item_ids)} streamers, "
                f"this data {train.n_items}",
                "train it on this data with `livecart train --ranker rooms`",
            )
        self._scorer, self._train = scorer, train
        self.signals = record.metadata.get("signals")
        self.name = f"served (v{record.version})"
