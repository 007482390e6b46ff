"""`livecart ingest tables` on the documented example (docs/examples/byo): mapped, converted,
derived, and through the same gate as every source; nothing dropped without a reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from livecart.core import contract as c
from livecart.core.errors import ContractError
from livecart.core.io import read_source
from livecart.core.settings import PROJECT_ROOT, LivecartSettings
from livecart.model.interaction_log import visit_event_types
from ray_jobs.ingest.tables import TablesConfig, run
from validation.run import run as validate

pytestmark = pytest.mark.data
EXAMPLE = PROJECT_ROOT / "docs" / "examples" / "byo"


def test_ingest_tables__example__mapped_quarantined_with_reasons_and_gated(
    settings: LivecartSettings,
) -> None:
    result = run(
        TablesConfig(settings=settings, directory=EXAMPLE, mapping=EXAMPLE / "mapping.yaml")
    )
    assert result.rows == {"viewers": 3, "rooms": 2, "products": 4, "events": 14, "streamers": 2}
    assert result.quarantined == {"viewers": 0, "rooms": 0, "products": 1, "events": 1}
    reasons = pq.read_table(result.quarantine_path).to_pandas().set_index("table")
    assert reasons.loc["products", c.QUARANTINE_REASON] == "price: not a number"
    assert (
        reasons.loc["products", "row"] == 5 and "catalogue.csv" in reasons.loc["products", "file"]
    )
    assert "event_timestamp" in reasons.loc["events", c.QUARANTINE_REASON]
    assert '"yesterday"' in reasons.loc["events", "raw"]
    # Mapped values and times: Shanghai evening is UTC noon; the export's words became the contract's.
    events = read_source(settings.raw_dir, c.Table.EVENTS).to_pandas().set_index(c.EVENT_ID)
    assert events.loc["e5", c.EVENT_TYPE] == "purchase" and events.loc["e5", c.AMOUNT] == 89.0
    assert str(events.loc["e1", c.EVENT_TIMESTAMP]) == "2026-11-20 11:05:00+00:00"
    products = read_source(settings.raw_dir, c.Table.PRODUCTS).to_pandas()
    assert set(products[c.CATEGORY]) == {"beauty", "outdoors"}
    viewers = read_source(settings.raw_dir, c.Table.VIEWERS).to_pandas()
    said = dict(zip(viewers[c.VIEWER_ID], viewers[c.SHOPPING_FOR], strict=True))
    assert said[next(v for v in said if v.endswith("u2"))] == "gear that survives the rain"
    assert visit_event_types(settings) == ("enter_room",)
    report = validate(settings)
    by_table = {t.table.value: t for t in report.tables}
    assert by_table["events"].good == 13 and by_table["events"].quarantined == 1  # viewer u9
    assert any("viewer_id" in reason for reason, _ in by_table["events"].top_reasons())


def test_ingest_tables__mapping_names_an_unknown_column__error_names_it(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "byo")
    mapping = tmp_path / "byo" / "mapping.yaml"
    mapping.write_text(mapping.read_text().replace("brand, price_cny", "brnad, price_cny"))
    with pytest.raises(ContractError, match=r"brnad.*not a column of products"):
        run(TablesConfig(settings=settings, directory=tmp_path / "byo", mapping=mapping))


def test_ingest_tables__events_only__viewers_streamers_rooms_derived(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    (tmp_path / "events.csv").write_text(
        "event_id,event_type,event_timestamp,viewer_id,streamer_id\n"
        "a,watch,2026-11-20T10:00:00Z,v1,s1\n"
        "b,watch,2026-11-20T10:10:00+08:00,v2,s1\n"
        "c,watch,2026-11-20T10:20:00,v2,s2\n"
    )
    lenient = settings.model_copy(update={"max_quarantine_fraction": 0.5})  # 1 of 3 is let in
    result = run(TablesConfig(settings=lenient, directory=tmp_path))
    assert result.quarantined == {"events": 1}  # c: no offset, and no zone in a mapping
    assert result.rows == {"events": 2, "streamers": 1, "rooms": 1, "viewers": 2}
    rooms = read_source(settings.raw_dir, c.Table.ROOMS).to_pandas()
    assert rooms[c.ROOM_ID].tolist() == ["s1-live"]
    assert visit_event_types(settings) == ("watch",)
