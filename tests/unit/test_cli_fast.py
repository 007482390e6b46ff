"""The command line builds itself from light modules: `--help` and `--version` load no job, the
choices it declares match the jobs' own sets, and `--json` prints one JSON object on stdout."""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import re
import subprocess
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import get_args

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

import livecart
from livecart.cli import choices
from livecart.cli.main import PANELS, PIPELINE, app
from livecart.cli.support import jsonable, stdout_to_stderr
from livecart.core.settings import LivecartSettings

HEAVY = (
    "torch",
    "ray",
    "feast",
    "pandas",
    "pyarrow",
    "numpy",
    "duckdb",
    "great_expectations",
    "transformers",
    "matplotlib",
)


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys; {code}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    loaded: list[str] = ast.literal_eval(done.stdout.strip())
    return loaded


def test_cli_import__loads_no_heavy_module() -> None:
    assert _loaded_after("import livecart.cli.main") == []


def test_cli_help__loads_no_heavy_module() -> None:
    code = (
        "from typer.testing import CliRunner; from livecart.cli.main import app; "
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0"
    )
    assert _loaded_after(code) == []


def test_cli_version__prints_the_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"livecart {livecart.__version__}"


def test_cli_help__panels_and_commands_in_pipeline_order() -> None:
    result = CliRunner().invoke(app, ["--help"], terminal_width=120)
    assert result.exit_code == 0
    out = result.stdout
    panels = [out.index(f"─ {panel} ") for panel in PANELS]
    assert panels == sorted(panels)
    commands = [m.start() for name in PIPELINE for m in [re.search(rf"│ {name} ", out)] if m]
    assert len(commands) == len(PIPELINE)
    assert commands == sorted(commands)
    assert PIPELINE[:3] == ["generate", "ingest", "validate"]
    assert PIPELINE[-2:] == ["demo", "paths"]


def test_cli_help__every_command_is_in_a_panel() -> None:
    result = CliRunner().invoke(app, ["--help"], terminal_width=120)
    assert "─ Commands " not in result.stdout


def _values(enum: type[StrEnum]) -> set[str]:
    return {member.value for member in enum}


def test_cli_choices__scale_and_language_match_the_world() -> None:
    from livecart.simulation.world import config, text

    assert _values(choices.Scale) == set(config.SCALES) == set(get_args(config.Scale))
    assert _values(choices.Language) == set(get_args(text.Language))


def test_cli_choices__evaluation_match_the_runner() -> None:
    from ray_jobs.evaluation.protocols import ProtocolName
    from ray_jobs.evaluation.runner import MODELS

    assert _values(choices.Protocol) == {p.value for p in ProtocolName}
    assert [m.value for m in choices.EvalModel] == list(MODELS)  # same order: the default


def test_cli_choices__ingest_and_finetune_match_their_jobs() -> None:
    from ray_jobs.finetune_encoder import FinetuneConfig
    from ray_jobs.ingest.interactions import InteractionsFormat

    assert _values(choices.InteractionsFormat) == {f.value for f in InteractionsFormat}
    layers = set(get_args(FinetuneConfig.model_fields["layers"].annotation))
    assert _values(choices.EncoderFinetune) == layers | {"none"}


def test_cli_default_ranker__matches_the_registry() -> None:
    from livecart.cli.model import DEFAULT_RANKER
    from livecart.model import registry

    assert DEFAULT_RANKER == registry.DEFAULT_RANKER


def test_cli_paths_json__one_object_of_paths(settings: LivecartSettings) -> None:
    result = CliRunner().invoke(app, ["paths", "--json"])
    assert result.exit_code == 0, result.output
    where = json.loads(result.stdout)
    assert where["home"] == str(settings.home)
    assert where["raw_dir"] == str(settings.raw_dir)
    assert where["reports_dir"] == str(settings.reports_dir)


def test_cli_generate_json__counts_on_stdout_progress_elsewhere(
    settings: LivecartSettings,
) -> None:
    args = ["generate", "--scale", "tiny", "--no-ray", "--dirty", "0.01", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["scale"] == "tiny"
    assert report["raw_dir"] == str(settings.raw_dir)
    assert report["tables"]["events"] == report["events"] > 0
    assert report["dirty_rows"] > 0
    assert Path(report["faults_manifest"]).exists()


def test_cli_model_list_json__empty_registry(settings: LivecartSettings) -> None:
    result = CliRunner().invoke(app, ["model", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"name": "product_ranker", "versions": [], "serving": None}


def test_cli_error_with_json__message_on_stderr_stdout_empty(settings: LivecartSettings) -> None:
    result = CliRunner().invoke(app, ["model", "rollback", "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "no earlier promoted version" in result.stderr


class _Record(BaseModel):
    name: str
    path: Path


@dataclasses.dataclass(frozen=True)
class _Result:
    when: datetime
    where: Path
    scores: dict[str, float]
    record: _Record
    scale: choices.Scale


def test_jsonable__paths_datetimes_nan_enums_models() -> None:
    value = _Result(
        when=datetime(2024, 5, 1, 12, tzinfo=UTC),
        where=Path("/tmp/x"),
        scores={"auc": 0.5, "loss": math.nan},
        record=_Record(name="r", path=Path("/m")),
        scale=choices.Scale.TINY,
    )
    assert jsonable(value) == {
        "when": "2024-05-01T12:00:00+00:00",
        "where": "/tmp/x",
        "scores": {"auc": 0.5, "loss": None},
        "record": {"name": "r", "path": "/m"},
        "scale": "tiny",
    }
    json.dumps(jsonable(value), allow_nan=False)


def test_stdout_to_stderr__moves_prints_only_when_active(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with stdout_to_stderr(True):
        print("job noise")
    with stdout_to_stderr(False):
        print("kept")
    captured = capsys.readouterr()
    assert captured.out == "kept\n"
    assert captured.err == "job noise\n"
