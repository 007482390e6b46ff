"""The text ablation's report, and its clear refusal on data without product texts."""

from __future__ import annotations

import json

import pytest

from livecart.core.errors import StageError
from livecart.core.settings import LivecartSettings
from ray_jobs.evaluation.ablation import AblationRow, TextAblation, text_ablation


def test_text_ablation__report__gain_table_json_and_plot(settings: LivecartSettings) -> None:
    report = TextAblation(
        "synthetic",
        6,
        [AblationRow("with text", 3, 0.81, 0.79), AblationRow("without text", 4, 0.78, 0.77)],
        oracle_auc_purchase=0.84,
    )
    assert report.gain() == pytest.approx(0.03)
    text = report.to_markdown()
    assert "| with text | 0.8100 |" in text and "+0.0300" in text and "0.8400" in text
    assert "0.0300 purchase AUC below the planted-preference oracle" in text
    report.rows.append(AblationRow("with text and the viewer's text interest", 5, 0.82, 0.8))
    assert report.gain() == pytest.approx(0.04)
    out = settings.reports_dir / "evaluation"
    report.write(out)
    assert json.loads((out / "ablation_text.json").read_text())["rows"][1]["auc_purchase"] == 0.78
    assert (out / "ablation_text.png").stat().st_size > 1000


def test_text_ablation__no_product_texts__refuses_with_the_fix(settings: LivecartSettings) -> None:
    with pytest.raises(StageError, match="no products with texts"):
        text_ablation(settings, "twitch")
