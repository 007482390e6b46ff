"""One ephemeral Great Expectations context, its suites and checkpoints, reused for every batch.

Creating a GX context, datasource, suites and checkpoints costs far more than validating a small
batch, so a :class:`GxEngine` builds each of them once, on first use, and keeps them. The engine
turns GX results into plain data: for the row suite, the positions of failing rows per rule (via
``unexpected_index_column_names`` on a row-number column); for the table suite, pass/fail with
the observed value. An engine is not thread-safe (neither is a GX context): use one per worker.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import great_expectations as gx
import numpy as np
import numpy.typing as npt
import pandas as pd
from great_expectations.core import ExpectationSuiteValidationResult
from great_expectations.core.expectation_validation_result import ExpectationValidationResult
from great_expectations.core.run_identifier import RunIdentifier

from livecart.core.contract import Table
from livecart.core.errors import StageError
from validation import docs, gx_graphs, gx_ids, gx_row_filter
from validation.checks import META_CHECK, table_suite, table_suite_name
from validation.first_pass import share_suite
from validation.pass_worker import PassWorker
from validation.suites import KIND_ROW, META_KIND, META_REASON, row_suite, row_suite_name

ROW_INDEX: Final = "__livecart_row"
"""Row-number column added to every batch so GX can name the failing rows."""
DATASOURCE: Final = "livecart"
ROW_RESULT_FORMAT: Final[dict[str, Any]] = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": [ROW_INDEX],
    "return_unexpected_index_query": False,
    "partial_unexpected_count": 20,
}
TABLE_RESULT_FORMAT: Final[dict[str, Any]] = {"result_format": "SUMMARY"}
PASS_RESULT_FORMAT: Final = "BOOLEAN_ONLY"
"""The first pass of a batch without Data Docs: the suite's verdict only (about half the cost of
the row positions on a small batch); only a batch that fails it is validated again for them."""


@dataclass(frozen=True)
class RuleOutcome:
    """Rows (positions in the batch) that broke one row rule."""

    reason: str
    kind: str
    rows: npt.NDArray[np.int64]


@dataclass(frozen=True)
class TableCheck:
    """Outcome of one distribution check on one batch; a failure is a warning, not a block."""

    table: Table
    batch: str
    check: str
    success: bool
    observed: str


def _fail_on_exception(suite: str, result: ExpectationValidationResult) -> None:
    info = result.exception_info or {}
    if not info.get("raised_exception"):
        return
    config = result.expectation_config
    what = config.type if config is not None else "expectation"
    raise StageError(
        "validate",
        f"suite {suite!r}: {what} could not be evaluated: {info.get('exception_message')}",
        "conform the batch with livecart.core.conform.conform before validating it",
    )


def _observed(result: ExpectationValidationResult) -> str:
    details = result.result or {}
    if "observed_value" in details:
        value = details["observed_value"]
        return f"{value:.4g}" if isinstance(value, float) else str(value)
    if "unexpected_percent" in details and details["unexpected_percent"] is not None:
        return f"{details['unexpected_percent']:.2f}% unexpected"
    return ""


class GxEngine:
    """Lazily built GX objects for the row and table suites of every source.

    With ``docs_dir`` the validation results are kept until :meth:`build_docs` renders them; without
    it each result is dropped as soon as it has been read, so a long-lived engine (serving) does not
    grow.
    """

    def __init__(self, docs_dir: Path | None = None, pass_workers: int = 0) -> None:
        gx_ids.install()
        gx_row_filter.install()
        gx_graphs.install()
        self._context = docs.ephemeral_context()
        self._source = self._context.data_sources.add_pandas(DATASOURCE)
        self._docs_dir = docs_dir
        if docs_dir is not None:
            docs.add_docs_site(self._context, docs_dir)
        self._batches: dict[Table, Any] = {}
        self._checkpoints: dict[str, gx.Checkpoint] = {}
        self._suites: dict[str, gx.ExpectationSuite] = {}
        self._shares: dict[tuple[str, int, int], gx.ExpectationSuite] = {}
        self._order: dict[str, dict[str, int]] = {}
        self._workers = [PassWorker() for _ in range(pass_workers)]

    def _batch_definition(self, table: Table) -> Any:
        if table not in self._batches:
            asset = self._source.add_dataframe_asset(table.value)
            self._batches[table] = asset.add_batch_definition_whole_dataframe(table.value)
        return self._batches[table]

    def _checkpoint(
        self,
        table: Table,
        name: str,
        build: Callable[[], gx.ExpectationSuite],
        result_format: dict[str, Any],
    ) -> gx.Checkpoint:
        if name not in self._checkpoints:
            suite = self._context.suites.add(build())
            definition = self._context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=self._batch_definition(table), suite=suite)
            )
            self._suites[name] = suite
            self._checkpoints[name] = self._context.checkpoints.add(
                gx.Checkpoint(
                    name=name, validation_definitions=[definition], result_format=result_format
                )
            )
            self._order[name] = {
                str(e.meta[META_REASON]): i
                for i, e in enumerate(suite.expectations)
                if e.meta and META_REASON in e.meta
            }
        return self._checkpoints[name]

    def _run(
        self,
        checkpoint: gx.Checkpoint,
        frame: pd.DataFrame,
        parameters: Mapping[str, object],
        batch: str,
    ) -> ExpectationSuiteValidationResult:
        outcome = checkpoint.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters=dict(parameters),
            run_id=RunIdentifier(run_name=batch),
        )
        ((key, result),) = outcome.run_results.items()
        if self._docs_dir is None:
            self._context.validation_results_store.remove_key(key)  # type: ignore[no-untyped-call]
        return result

    def check_rows(
        self,
        table: Table,
        frame: pd.DataFrame,
        parents: Collection[Table],
        parameters: Mapping[str, object],
        batch: str,
    ) -> list[RuleOutcome]:
        """Run the row suite of ``table`` on ``frame`` (which must hold :data:`ROW_INDEX`).

        Outcomes come back in the suite's order, so reasons read the same way on every row.
        Without Data Docs, a batch the whole suite passes (:data:`PASS_RESULT_FORMAT`) is not
        validated a second time for row positions: every rule then has none.
        """
        name = row_suite_name(table, parents)
        checkpoint = self._checkpoint(
            table, name, lambda: row_suite(table, parents), ROW_RESULT_FORMAT
        )
        if self._docs_dir is None and self._first_pass(table, parents, frame, parameters):
            return self._clean(name)
        result = self._run(checkpoint, frame, parameters, batch)
        outcomes: list[RuleOutcome] = []
        for item in result.results:
            _fail_on_exception(name, item)
            meta = (item.expectation_config.meta if item.expectation_config else None) or {}
            if META_REASON not in meta:
                continue
            indices = (item.result or {}).get("unexpected_index_list") or []
            rows = np.fromiter((int(i[ROW_INDEX]) for i in indices), dtype=np.int64)
            kind = str(meta.get(META_KIND, KIND_ROW))
            outcomes.append(RuleOutcome(str(meta[META_REASON]), kind, rows))
        order = self._order[name]
        return sorted(outcomes, key=lambda o: order[o.reason])

    def passes(
        self,
        table: Table,
        parents: Collection[Table],
        frame: pd.DataFrame,
        parameters: Mapping[str, object],
        share: tuple[int, int] = (0, 1),
    ) -> bool:
        """Whether ``frame`` passes share ``share`` (index, count: a cost-balanced split,
        :func:`validation.first_pass.share_of`) of the row suite, with the verdict only
        (:data:`PASS_RESULT_FORMAT`)."""
        name = row_suite_name(table, parents)
        key = (name, *share)
        if key not in self._shares:
            self._shares[key] = share_suite(row_suite(table, parents), share)
        batch = self._batch_definition(table).get_batch(batch_parameters={"dataframe": frame})
        verdict = batch.validate(
            self._shares[key],
            result_format=PASS_RESULT_FORMAT,
            expectation_parameters=dict(parameters),
        )
        return bool(verdict.success)

    def _first_pass(
        self,
        table: Table,
        parents: Collection[Table],
        frame: pd.DataFrame,
        parameters: Mapping[str, object],
    ) -> bool:
        """The whole suite's verdict; shares go to the ready pass workers (:mod:`pass_worker`)
        while this process validates its own, and any share a worker fails to answer."""
        ready = [w for w in self._workers if w.ready()]
        count = len(ready) + 1
        handed = {
            index: worker
            for index, worker in enumerate(ready, start=1)
            if worker.submit(table, parents, (index, count), frame, parameters)
        }
        verdict = self.passes(table, parents, frame, parameters, (0, count))
        for index in range(1, count):
            worker = handed.get(index)
            answer = worker.verdict() if worker is not None else None
            if answer is None:  # not handed, or the worker failed: validated here
                answer = self.passes(table, parents, frame, parameters, (index, count))
            verdict = answer and verdict
        return verdict

    def workers_ready(self) -> int:
        """Pass workers started and idle (they start in the background)."""
        return sum(worker.ready() for worker in self._workers)

    def close(self) -> None:
        """Stop the pass workers (an engine without them needs no closing)."""
        for worker in self._workers:
            worker.close()
        self._workers = []

    def _clean(self, name: str) -> list[RuleOutcome]:
        """Every row rule of suite ``name``, in order, broken by no row."""
        none = np.zeros(0, dtype=np.int64)
        suite = self._suites[name]
        return [
            RuleOutcome(str(e.meta[META_REASON]), str(e.meta.get(META_KIND, KIND_ROW)), none)
            for e in suite.expectations
            if e.meta and META_REASON in e.meta
        ]

    def check_table(self, table: Table, frame: pd.DataFrame, batch: str) -> list[TableCheck]:
        """Run the distribution checks of ``table`` on ``frame``."""
        name = table_suite_name(table)
        checkpoint = self._checkpoint(table, name, lambda: table_suite(table), TABLE_RESULT_FORMAT)
        result = self._run(checkpoint, frame, {}, batch)
        checks: list[TableCheck] = []
        for item in result.results:
            _fail_on_exception(name, item)
            meta = (item.expectation_config.meta if item.expectation_config else None) or {}
            check = str(meta.get(META_CHECK, "check"))
            checks.append(TableCheck(table, batch, check, bool(item.success), _observed(item)))
        return sorted(checks, key=lambda c: c.check)

    def build_docs(self) -> Path | None:
        """Render Data Docs for everything validated so far; None when docs are disabled."""
        if self._docs_dir is None:
            return None
        return docs.build_docs(self._context, self._docs_dir)
