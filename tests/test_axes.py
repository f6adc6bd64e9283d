"""Issue 18: the claim's own risks, measured beside accuracy (genspec.axes).

Metrics against hand-computed values on small vectors; perturbations and request
variants as pure functions; whole runs on the mock backend and on the fake OpenAI API
(real sockets, litellm), where calibration uses the stated-confidence method and a
rerun makes no call; and a run logged to a real MLflow store.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from conftest import MOCK_MODELS, write_roster
from genspec import engine
from genspec.analysis import Settings
from genspec.axes import metrics, resolve
from genspec.axes.perturbations import distractor, seeded, shift_options, term_rewording, typos
from genspec.axes.probe import NOTHING_TO_HIDE
from genspec.axes.records import (
    ABSTENTION,
    AXES,
    CALIBRATION,
    CONTAMINATION,
    MIN_K_PROB,
    OPTION_PROBABILITIES,
    STATED_CONFIDENCE,
    TS_GUESSING,
    UNCHANGED,
    AxisItem,
)
from genspec.axes.report import report, summarise, with_axes
from genspec.axes.variants import exact_guess, read_confidence
from genspec.config.compose import compose
from genspec.documents import ResultsDocument
from genspec.errors import GenspecError
from genspec.evidence import DomainEvidence
from genspec.fake_api import FakeOpenAIServer
from genspec.results import to_frame
from genspec.task import Example
from genspec_medical.wording import LAY_TERMS

# --- metrics, by hand --------------------------------------------------------------


def test_brier_is_the_mean_squared_gap() -> None:
    # (0.1² + 0.6² + 0.2² + 0.2²) / 4 = (0.01 + 0.36 + 0.04 + 0.04) / 4
    assert metrics.brier([0.9, 0.6, 0.2, 0.8], [1, 0, 0, 1]) == pytest.approx(0.1125)


def test_ece_uses_equal_mass_bins() -> None:
    p, y = [0.1, 0.3, 0.7, 0.9, 0.95], [0, 1, 1, 1, 0]
    # 2 bins of 3 and 2 items: |2/3 − 1.1/3| = 0.3 and |1/2 − 0.925| = 0.425
    assert metrics.ece(p, y, bins=2) == pytest.approx(3 / 5 * 0.3 + 2 / 5 * 0.425)
    # 10 bins over 5 items: one item a bin, the mean gap
    assert metrics.ece(p, y) == pytest.approx((0.1 + 0.7 + 0.3 + 0.1 + 0.95) / 5)
    bins = metrics.reliability_bins(p, y, bins=2)
    assert [b.n for b in bins] == [3, 2]
    assert bins[1].confidence == pytest.approx(0.925) and bins[1].accuracy == 0.5


def test_confident_wrong_counts_wrong_answers_at_or_above_0_8() -> None:
    assert metrics.confident_wrong_rate([0.9, 0.85, 0.8, 0.5], [1, 0, 0, 0]) == 0.5


def test_aurc_by_hand_and_with_ties() -> None:
    # risks of the 1..4 most confident: 0, 1/2, 1/3, 1/2
    assert metrics.aurc([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx(
        (0.5 + 1 / 3 + 0.5) / 4
    )
    assert metrics.aurc([0.9, 0.1], [1, 0]) == pytest.approx(0.25)  # good ranking
    assert metrics.aurc([0.1, 0.9], [1, 0]) == pytest.approx(0.75)  # worst ranking
    assert metrics.aurc([0.5, 0.5], [1, 0]) == pytest.approx(0.5)  # a tie: in expectation


def test_coverage_selective_accuracy_min_k_and_softmax() -> None:
    coverage, accuracy = metrics.selective([True, True, False, True], [1, 0, 0, 1])
    assert coverage == 0.75 and accuracy == pytest.approx(2 / 3)
    assert math.isnan(metrics.selective([False], [0])[1])
    assert metrics.min_k_prob([-1, -2, -3, -4, -5]) == -5  # ceil(20% of 5) = 1 token
    assert metrics.min_k_prob([-1, -2, -3, -4, -5], k=0.4) == -4.5
    assert metrics.softmax([math.log(0.5), math.log(0.25), math.log(0.25)]) == pytest.approx(
        [0.5, 0.25, 0.25]
    )
    with pytest.raises(ValueError, match="probabilities"):
        metrics.brier([1.2], [1])


# --- perturbations and variants ------------------------------------------------------

ITEM = Example(
    id="q1",
    question="A 60-year-old has Chest pain and dyspnea after a myocardial infarction.",
    choices=("aspirin", "heparin", "rest", "surgery"),
    gold=1,
)


def test_term_rewording_is_seeded_keeps_case_and_prefers_longer_terms() -> None:
    lay = term_rewording("lay", LAY_TERMS)
    first = lay.apply(ITEM, seeded(1, "lay", ITEM.id))
    assert first == lay.apply(ITEM, seeded(1, "lay", ITEM.id))  # same seed, same item
    assert "heart attack" in first.question and "infarction" not in first.question
    assert "dyspnea" not in first.question
    assert first.choices == ITEM.choices and first.gold == ITEM.gold
    cultural = term_rewording("c", {"chest pain": ["a heavy chest"]})
    assert "A heavy chest and" in cultural.apply(ITEM, seeded(1, "c", "q1")).question
    untouched = Example(id="q2", question="What is 2 + 2?", choices=("3", "4"), gold=1)
    assert lay.apply(untouched, seeded(1, "lay", "q2")) == untouched  # left out, not scored


def test_typos_and_distractor_change_only_the_question() -> None:
    noisy = typos(0.5).apply(ITEM, seeded(3, "typos", ITEM.id))
    assert noisy.question != ITEM.question and noisy.choices == ITEM.choices
    assert noisy == typos(0.5).apply(ITEM, seeded(3, "typos", ITEM.id))
    assert typos(0.0).apply(ITEM, seeded(3, "typos", ITEM.id)) == ITEM
    distracted = distractor(["It rained."]).apply(ITEM, seeded(3, "d", ITEM.id))
    assert distracted.question == f"It rained. {ITEM.question}"


def test_an_option_shift_moves_the_gold_with_its_option() -> None:
    shifted = shift_options(ITEM, 1)
    assert shifted.choices == ("heparin", "rest", "surgery", "aspirin")
    assert shifted.choices[shifted.gold] == "heparin"


def test_stated_confidence_and_guess_matching() -> None:
    assert read_confidence("The answer is B.\nConfidence: 85") == ("The answer is B.", 0.85)
    assert read_confidence("The answer is B.") == ("The answer is B.", None)
    assert read_confidence("B\nconfidence = 140%")[1] == 1.0
    assert exact_guess("B. Aspirin.", "aspirin") and not exact_guess("aspirin tablets", "aspirin")


def test_axes_config_key() -> None:
    assert resolve("all") == list(AXES)
    assert resolve(["calibration"]) == ["accuracy", "calibration"]
    with pytest.raises(ValueError, match="unknown axis 'speed'"):
        resolve(["speed"])
    with pytest.raises(GenspecError, match="axes"):
        compose(["axes=[speed]"])


# --- abstention rewards knowing one's limits -----------------------------------------


def _items(model: str, abstain_when_wrong: bool) -> list[AxisItem]:
    outcomes = [1, 1, 0, 0]
    return [
        AxisItem(
            ABSTENTION,
            "t",
            str(i),
            model,
            "generalist",
            score=0.5 if (abstain_when_wrong and not y) else float(y),
            correct=float(y) if not (abstain_when_wrong and not y) else 0.0,
            confidence=0.9,
            abstained=abstain_when_wrong and not y,
        )
        for i, y in enumerate(outcomes)
    ]


def test_a_model_that_abstains_where_it_would_be_wrong_looks_better() -> None:
    wise, guesser = summarise([*_items("wise", True), *_items("guesser", False)])
    assert wise.metrics["coverage"] == 0.5 and guesser.metrics["coverage"] == 1.0
    assert (
        wise.metrics["selective_accuracy"] == 1.0 and guesser.metrics["selective_accuracy"] == 0.5
    )
    assert wise.metrics["score"] > guesser.metrics["score"]
    assert wise.metrics["aurc"] < guesser.metrics["aurc"]


# --- whole runs ----------------------------------------------------------------------


def _mock_config(workdir: Path, *overrides: str):
    conf = write_roster(workdir / "conf", "mocks", MOCK_MODELS, smoke=True)
    config, plain = compose(["domain=medical", "roster=mocks", *overrides], str(conf))
    return config, plain


def test_the_default_measures_accuracy_alone(workdir: Path) -> None:
    config, _ = _mock_config(workdir, "tasks=[medqa]", "limit=3")
    assert config.axes == ["accuracy"]
    run = engine.run(config)
    assert run.axis_items == []
    assert len(run.rows) == 9  # three models × three items, nothing more


def test_axes_all_on_the_mock_backend(workdir: Path) -> None:
    config, _ = _mock_config(workdir, "tasks=[medqa,pubmedqa]", "limit=10", "axes=all")
    run = engine.run(config)
    axes = {i.axis for i in run.axis_items}
    assert {CALIBRATION, ABSTENTION, CONTAMINATION} <= axes
    assert {"robustness:option_order", "robustness:typos", "robustness:distractor"} <= axes
    assert {"robustness:lay", "robustness:cultural"} <= axes  # the medical plugin's maps
    # every (axis, model, item) is there: items without a measurement are counted
    for axis in axes:
        assert len([i for i in run.axis_items if i.axis == axis]) == 3 * 20
    calibration = [i for i in run.axis_items if i.axis == CALIBRATION]
    assert all(i.method == STATED_CONFIDENCE and i.confidence is not None for i in calibration)
    signal = [i for i in run.axis_items if i.axis == CONTAMINATION]
    # the mock gives token log-probabilities: Min-K% on every item, options or not
    assert {(i.method, i.error) for i in signal} == {(MIN_K_PROB, None)}
    assert all(i.score < 0 for i in signal)
    shifts = [i for i in run.axis_items if i.axis == "robustness:option_order"]
    assert {i.task for i in shifts if i.error != UNCHANGED} == {"medqa"}

    frame = to_frame(run.rows)
    found = report(run.axis_items, frame, run.models, Settings(domain="medical", smoke=True))
    assert found is not None
    assert list(found.evidence)[:3] == [CALIBRATION, ABSTENTION, "robustness"]
    assert CONTAMINATION not in found.evidence  # a signal, not a comparison
    lay = found.evidence["robustness:lay"]
    assert any("left out (unchanged)" in note for note in lay.notes)
    summary = next(s for s in found.summaries if s.axis == CALIBRATION)
    assert {"brier", "ece", "confident_wrong"} <= set(summary.metrics)

    # verdict.json and results.json carry the axes and read back
    from genspec.analysis import compare

    evidence = with_axes(compare(frame, run.models, domain="medical"), found)
    assert any(note.startswith("contamination (") for note in evidence.notes)
    saved = json.loads(json.dumps(evidence.to_json()))
    assert set(saved["axes"]) == set(found.evidence)
    assert DomainEvidence.from_json(saved).axes["calibration"] == found.evidence["calibration"]


def test_results_document_has_axes_only_when_measured() -> None:
    summary = summarise(_items("m", True))[0]
    base = {
        "genspec_version": "x", "created": "now", "domain": "medical", "roster": "r",
        "smoke": True, "data": "sample", "prompt": "zero_shot", "models": (), "tasks": (),
        "results": (), "by_category": (),
    }  # fmt: skip
    assert "axes" not in ResultsDocument(**base).to_json()
    with_axes_doc = ResultsDocument(**base, axes=(summary,)).to_json()
    assert with_axes_doc["axes"][0]["metrics"]["coverage"] == 0.5
    assert ResultsDocument.from_json(json.loads(json.dumps(with_axes_doc))).axes == (summary,)


def test_fake_api_calibration_is_stated_and_a_rerun_makes_no_call(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """API models generate: their confidence is stated in the same call; every variant
    (confidence, perturbations) is cached, so the same run again asks nothing."""
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("GENSPEC_FAKE_API_BASE", server.url)
        config, _ = compose(
            ["domain=medical", "roster=fake-api", "tasks=[medqa,pubmedqa]", "limit=2",
             "axes=all"]
        )  # fmt: skip
        first = engine.run(config)
        calls = server.calls
        assert calls > 0
        calibration = [i for i in first.axis_items if i.axis == CALIBRATION]
        assert calibration and all(i.method == STATED_CONFIDENCE for i in calibration)
        assert all(i.error is None and 0 <= (i.confidence or -1) <= 1 for i in calibration)
        asked = [r.body for r in server.requests if r.body]
        assert any("'Confidence: N'" in json.dumps(body) for body in asked)
        guesses = [i for i in first.axis_items if i.axis == CONTAMINATION]
        assert {i.method for i in guesses} == {TS_GUESSING}  # an API model: TS-Guessing
        asked_guess = [b for b in asked if "Fill in the [MASK]" in json.dumps(b)]
        hidden = [i for i in guesses if i.task == "pubmedqa"]  # yes/no/maybe: no option
        assert hidden and {i.error for i in hidden} == {NOTHING_TO_HIDE}  # counted, not dropped
        assert len(asked_guess) == len([i for i in guesses if i.error is None])
        again = engine.run(config)
        assert server.calls == calls  # every perturbed and variant request was cached
        assert [i.score for i in again.axis_items] == [i.score for i in first.axis_items]
    assert OPTION_PROBABILITIES != STATED_CONFIDENCE


def test_a_run_logs_its_axes_to_mlflow(workdir: Path) -> None:
    """results.json and verdict.json carry the axes; each model run has their metrics;
    the plots are artifacts."""
    from mlflow.tracking import MlflowClient

    from genspec.runner import run_domain

    config, plain = _mock_config(
        workdir,
        "tasks=[medqa]",
        "limit=3",
        "tracking.traces=0",
        "axes=[calibration,abstention,robustness]",
    )
    run_id = run_domain(config, plain)
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    artifacts = Path(client.download_artifacts(run_id, "", str(workdir / "got")))
    results = json.loads((artifacts / "results.json").read_text())
    verdict = json.loads((artifacts / "verdict.json").read_text())
    assert {a["axis"] for a in results["axes"]} >= {CALIBRATION, ABSTENTION, "robustness:typos"}
    assert set(verdict["axes"]) >= {CALIBRATION, ABSTENTION, "robustness"}
    assert "Axes beside accuracy" in (artifacts / "verdict.md").read_text()
    plots = {p.name for p in (artifacts / "plots").iterdir()}
    assert {"reliability.png", "risk_coverage.png", "robustness_drop.png"} <= plots
    children = client.search_runs(
        [client.get_run(run_id).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run_id}'",
    )
    metrics_logged = children[0].data.metrics
    assert "axes.calibration.medqa.brier" in metrics_logged
    assert "axes.robustness.typos.medqa.drop" in metrics_logged


def test_t_power_survives_scipys_nan_far_tail() -> None:
    """Graded axis scores reach the paired t-test's power; scipy's noncentral t gives NaN
    for a far lower tail (df 29, noncentrality 11), which made every MDE fail."""
    from genspec.stats.exact_power import t_mde, t_power

    assert t_power(30, 0.6, 0.3, alpha=0.025) == pytest.approx(1.0)
    assert 0 < t_mde(30, 0.3, alpha=0.025) < 0.6


# --- MedHallu ------------------------------------------------------------------------


def test_medhallu_maps_a_hub_row_to_one_yes_no_item_and_runs_only_when_named() -> None:
    from genspec.config.schema import DataConfig
    from genspec.data import load_task_data
    from genspec.plugins import registry
    from genspec_medical.medhallu import to_example

    row = {
        "Question": "Does X help?",
        "Knowledge": ["One passage.", "Another."],
        "Ground Truth": "Yes, a little.",
        "Difficulty Level": "hard",
        "Hallucinated Answer": "No, it doubles mortality.",
        "Category of Hallucination": "Incomplete Information",
    }
    hub, local = to_example(row, 0), to_example(row, 1)  # hub rows count from 0, files 1
    assert hub == local and hub.category == "hard" and hub.choices == ("yes", "no")
    shown = "No, it doubles mortality." if hub.gold == 0 else "Yes, a little."
    assert shown in hub.question and "One passage.\nAnother." in hub.context
    with pytest.raises(ValueError, match="Ground Truth"):
        to_example({k: v for k, v in row.items() if k != "Ground Truth"}, 0)

    task = registry().tasks["medhallu"]
    data = load_task_data(task, DataConfig())
    assert len(data.test) == 30 and sum(e.gold == 0 for e in data.test) == 15  # balanced
    assert len({e.id for e in data.test}) == 30
    assert not task.by_default  # the default medical run (engine.prepare) leaves it out


def test_hf_token_logprobs_score_each_token_after_the_first(tmp_path: Path) -> None:
    """Min-K% reads the hf backend's per-token log-probabilities (a tiny saved Llama):
    one per token after the first, each log P(token k | tokens before k)."""
    import torch
    from test_hf_backend import TINY, hf_spec, save_tiny, special_ids
    from transformers import LlamaConfig, LlamaForCausalLM

    from genspec.backends.hf import HFBackend
    from genspec.requests import TokensRequest

    config = LlamaConfig(**TINY, **special_ids(), tie_word_embeddings=True)
    folder = save_tiny(tmp_path / "tiny", LlamaForCausalLM, config)
    backend = HFBackend(hf_spec(folder, device="cpu", dtype="float32", chat_template=False))
    text = "The mitochondria is the powerhouse of the cell."
    [(index, response)] = list(backend.token_logprobs([TokensRequest(text)]))
    ids = backend.prompter.ids(text)
    with torch.no_grad():
        logits = backend.model(input_ids=torch.tensor([ids])).logits[0].log_softmax(-1)
    expected = [float(logits[k - 1, ids[k]]) for k in range(1, len(ids))]
    assert index == 0 and response.logprobs == pytest.approx(expected, abs=1e-5)
    assert metrics.min_k_prob(response.logprobs) == pytest.approx(
        sum(sorted(expected)[: math.ceil(0.2 * len(expected))]) / math.ceil(0.2 * len(expected))
    )
    backend.close()
