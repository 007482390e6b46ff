"""The CLI: jobs chain through the data directory, and errors are one clear message."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from livecart.cli.main import app
from livecart.core.settings import LivecartSettings


def test_cli__features_before_validate__names_stage_and_fix(settings: LivecartSettings) -> None:
    result = CliRunner().invoke(app, ["features"])
    assert result.exit_code == 2
    assert "stage 'features' failed" in result.output
    assert "livecart validate" in result.output
    assert "Traceback" not in result.output


def test_cli__generate_tiny__writes_raw_tables(settings: LivecartSettings) -> None:
    result = CliRunner().invoke(app, ["generate", "--scale", "tiny", "--no-ray"])
    assert result.exit_code == 0, result.output
    assert (settings.raw_dir / "events" / "part-00000.parquet").exists()
    assert (settings.raw_dir / "viewers.parquet").exists()


@pytest.mark.parametrize(
    ("args", "choices"),
    [
        (["generate", "--scale", "huge"], ("tiny", "small", "medium", "large")),
        (["generate", "--language", "fr"], ("en", "zh")),
        (["demo", "--scale", "huge"], ("tiny", "small", "medium", "large")),
        (["train", "--finetune-encoder", "half"], ("none", "last", "full")),
        (["evaluate", "--protocol", "all"], ("full", "live_now", "sampled")),
        (["ingest", "interactions", "x.csv", "--format", "xml"], ("auto", "csv", "parquet")),
        (["bench", "serve", "--layouts", "in_process,bogus"], ("in_process", "split_ranker")),
    ],
)
def test_cli__bad_choice__rejected_naming_the_choices(
    settings: LivecartSettings, args: list[str], choices: tuple[str, ...]
) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "Invalid value" in result.output
    for choice in choices:
        assert choice in result.output
    assert not settings.home.exists()  # rejected before any job ran


def test_cli__evaluate_unknown_model__one_clear_message(settings: LivecartSettings) -> None:
    result = CliRunner().invoke(app, ["evaluate", "--model", "foo"])
    assert result.exit_code == 2
    assert "'foo' is not one of" in result.output
    assert "livecart-strict" in result.output
    assert "Traceback" not in result.output
