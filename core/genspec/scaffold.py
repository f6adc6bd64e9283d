"""``genspec new-plugin NAME``: write a plugin package that installs and passes its checks.

The package is what a plugin author would otherwise assemble from the README: the entry
point, package-data that ships the samples, the corpus and ``tasks.yaml`` (a wheel
without them finds no data), two declared tasks with sample files, a ``SOURCES.md``
and a test that runs :func:`genspec.testing.check_plugin`. Every part is meant to be
edited; all of it works before it is.
"""

from __future__ import annotations

import json
import keyword
import re
from pathlib import Path
from string import Template

from genspec.errors import ConfigError

NAME = re.compile(r"^[a-z][a-z0-9_]*$")

PYPROJECT = """\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "genspec tasks for the $name domain"
dependencies = ["genspec"]

# genspec finds the plugin by this entry point; the name is the plugin's name
[project.entry-points.genspec]
$name = "$package"

[tool.setuptools]
packages = ["$package"]

# without these lines an installed (non-editable) plugin has no tasks, samples or corpus
[tool.setuptools.package-data]
$package = ["tasks.yaml", "data/SOURCES.md", "data/*/*.jsonl", "corpus/*.txt"]
"""

INIT = '''\
"""genspec plugin for the $name domain: tasks are declared in tasks.yaml, their bundled
samples are in data/<task>/{test,dev}.jsonl, domain text for adapters in corpus/."""

from genspec.toolkit import corpus_hook, domain_hook, tasks_hook

DOMAIN = "$name"

genspec_domain = domain_hook(DOMAIN)
genspec_tasks = tasks_hook(__name__)
genspec_corpus = corpus_hook(DOMAIN, __file__)
'''

TASKS = """\
# Tasks of the $name domain. Each takes the keywords of the toolkit builder of its kind
# (multiple_choice, classification, numeric, free_text); `fields` maps a row of the
# data files (in the benchmark's own schema) to an item. Reference: genspec docs/plugins.md.
# Task names are global across all plugins: keep the domain prefix.
tasks:
  - name: ${name}_quiz
    kind: multiple_choice
    description: Example multiple-choice task (replace the sample items with real ones).
    subject: $name
    fields:
      id: id
      question: question
      options: choices        # one field holding a list; or a list of fields [opa, opb, ...]
      answer: answer          # 0-based index; answer_format: letter | one_based | text
    # hub: {path: owner/dataset, split: test, dev_split: train}   # read with data=full

  - name: ${name}_yes_no
    kind: classification
    description: Example yes/no task on a short passage.
    subject: $name
    fields:
      id: id
      question: {const: "Does the passage support the claim?"}
      context: {format: "Passage: {passage}\\nClaim: {claim}"}
      answer: label
      labels: [yes, no]
"""

SOURCES = """\
# Data sources of the $name plugin

Every task's bundled sample (`data/<task>/test.jsonl`, few-shot items in `dev.jsonl`)
says where its items come from and under which licence. Replace these examples.

| task | source | licence | fields |
|---|---|---|---|
| ${name}_quiz | written for this plugin | CC0 | id, question, choices (list), answer (index) |
| ${name}_yes_no | written for this plugin | CC0 | id, passage, claim, label (yes/no) |
"""

CORPUS = """\
Domain text for the $name domain goes here: plain .txt or .md files that genspec adapt
reads for continued pre-training of a specialist adapter. Text that quotes a test
question is refused. Replace this file with real text you may use.
"""

TEST = '''\
"""The plugin's own check: found by genspec, data valid, every prompt runs on mocks."""

from genspec.testing import check_plugin


def test_plugin_passes_genspec_checks():
    check = check_plugin("$name")
    assert {task.name for task in check.tasks} == {"${name}_quiz", "${name}_yes_no"}
'''

README = """\
# $dist

genspec plugin for the $name domain.

    pip install -e .
    genspec validate domain=$name
    genspec run domain=$name
    pytest tests
"""

QUIZ = {
    "test": [
        ("Which colour does the example key mark as correct?", ["red", "green", "blue", "grey"], 1),
        ("How many sides does a triangle have?", ["two", "three", "four", "five"], 1),
        ("Which of these is a prime number?", ["4", "6", "7", "9"], 2),
        ("Which month comes after March?", ["January", "April", "June", "October"], 1),
    ],
    "dev": [
        ("Which day comes after Monday?", ["Sunday", "Tuesday", "Friday", "Saturday"], 1),
        ("Which number is even?", ["3", "5", "8", "11"], 2),
    ],
}
YES_NO = {
    "test": [
        ("The shop opens at nine and closes at five.", "The shop is open at noon.", "yes"),
        ("The bridge was closed for repairs all week.", "Cars crossed it on Tuesday.", "no"),
        ("Every sample in the batch passed the test.", "One sample failed.", "no"),
        ("The train left on time and arrived early.", "The train arrived early.", "yes"),
    ],
    "dev": [
        ("The river froze in January.", "The river froze in winter.", "yes"),
        ("The meeting was cancelled.", "The meeting took place.", "no"),
    ],
}


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def _sample_files(name: str) -> dict[str, str]:
    files = {}
    for split in ("test", "dev"):
        quiz = [
            {"id": f"{split}{i}", "question": q, "choices": c, "answer": a}
            for i, (q, c, a) in enumerate(QUIZ[split], start=1)
        ]
        yes_no = [
            {"id": f"{split}{i}", "passage": p, "claim": c, "label": label}
            for i, (p, c, label) in enumerate(YES_NO[split], start=1)
        ]
        files[f"data/{name}_quiz/{split}.jsonl"] = _jsonl(quiz)
        files[f"data/{name}_yes_no/{split}.jsonl"] = _jsonl(yes_no)
    return files


def plugin_files(name: str) -> dict[str, str]:
    """The package's files by path relative to its folder ``genspec-NAME/``."""
    package = f"genspec_{name}"
    values = {"name": name, "package": package, "dist": f"genspec-{name.replace('_', '-')}"}
    inside = {
        "__init__.py": INIT,
        "tasks.yaml": TASKS,
        "data/SOURCES.md": SOURCES,
        f"corpus/{name}.txt": CORPUS,
    }
    written = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        "tests/test_plugin.py": TEST,
        **{f"{package}/{path}": text for path, text in inside.items()},
    }
    rendered = {path: Template(text).substitute(values) for path, text in written.items()}
    rendered.update({f"{package}/{path}": t for path, t in _sample_files(name).items()})
    return rendered


def write_plugin(name: str, parent: Path) -> Path:
    """Write ``parent/genspec-NAME/``; refuse a name that cannot be a Python package
    or a folder that already exists (nothing is overwritten)."""
    if not NAME.match(name) or keyword.iskeyword(name):
        raise ConfigError(
            f"Plugin name '{name}' cannot name a package: use lower-case letters, digits and "
            "underscores, starting with a letter (e.g. agriculture, tax_law)."
        )
    root = parent / f"genspec-{name.replace('_', '-')}"
    if root.exists():
        raise ConfigError(f"{root} already exists; remove it or choose another --dir.")
    for relative, text in plugin_files(name).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
