"""Specialists made here: LoRA domain adapters for causal LMs and fine-tuned encoders.

The claim under test compares general models with domain specialists. Two kinds of
specialist cannot be downloaded for every base a user cares about: a general model
with a domain LoRA adapter, and a BERT-style encoder with a multiple-choice head.
This package makes both, from the same base and the same data every time, so the
specialist-vs-base comparison measures the domain training and nothing else.

- :mod:`.settings`: the training recipe (validated; part of the cache key).
- :mod:`.corpus`: domain text from plugins (``genspec_corpus``), local files, the hub.
- :mod:`.plan`: what a recipe trains on, checked against the test items, and its key.
- :mod:`.train`: the training loop (torch; imported only when something trains).
- :mod:`.lora`: LoRA adapters for the ``hf`` backend and ``genspec adapt``.
- :mod:`.encoders`: fine-tuned encoders with a multiple-choice head.
- :mod:`.training`: the run's training step, before any scoring: what the roster
  needs, from the cache or trained now; backends get the folder and never train.

Only :mod:`.train`, :mod:`.lora` and :mod:`.encoders` import torch: planning runs
before any model is loaded, and a run whose adapters are cached trains nothing.
"""
