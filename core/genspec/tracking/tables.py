"""One review table per task on the parent run: every model's answer to each item, side by side.

Columns: ``item``, ``question``, ``gold``, then ``<model> answer`` and ``<model> correct``
for each model, then ``agree`` (every model gave the same answer). A column whose value
is the same on every row says nothing about any item and is left out. The MLflow UI
shows such a table under the run's artifacts, where it can be sorted and filtered by
a model's ``correct`` column to find its wrong answers.

Text follows ``tracking.examples``: masked for ``redacted``, and under ``none`` the
question column is left out (answers are option letters or labels, not item text).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

INVALID = "(invalid)"


def task_tables(
    tasks: Sequence[str],
    questions: Mapping[str, Mapping[str, str]],
    logged: pd.DataFrame,
    mode: str,
) -> Iterator[tuple[str, pd.DataFrame]]:
    """(task name, table) for each task with test rows. ``questions`` maps task → item
    id → question text (empty: no question column); ``logged`` is the per-example table
    already masked for ``mode``."""
    import pandas as pd

    from genspec.tracking.redact import clean

    test = logged[logged["split"] == "test"]
    for task in tasks:
        rows = test[test["task"] == task]
        if rows.empty:
            continue
        ids = list(dict.fromkeys(rows["example_id"]))
        table = pd.DataFrame({"item": ids})
        if mode != "none" and questions.get(task):
            table["question"] = [clean(questions[task].get(i, ""), mode) for i in ids]
        gold = rows.drop_duplicates("example_id").set_index("example_id")["gold"]
        table["gold"] = [gold[i] for i in ids]
        answers, per_model = [], ["item"]
        for model, model_rows in rows.groupby("model", sort=False):
            by_item = model_rows.set_index("example_id")
            answer = [_answer(by_item, i) for i in ids]
            table[f"{model} answer"] = answer
            table[f"{model} correct"] = [
                float(by_item.at[i, "correct"]) if i in by_item.index else None for i in ids
            ]
            answers.append(answer)
            per_model += [f"{model} answer", f"{model} correct"]
        table["agree"] = [len(set(given)) == 1 for given in zip(*answers, strict=True)]
        yield task, _drop_constant(table, keep=per_model)


def _answer(by_item: pd.DataFrame, item: str) -> str:
    if item not in by_item.index:
        return ""
    row = by_item.loc[item]
    if isinstance(row["error"], str):
        return "(failed call)"
    return INVALID if row["invalid"] else str(row["prediction"])


def _drop_constant(table: pd.DataFrame, keep: Sequence[str]) -> pd.DataFrame:
    """Leave out columns with one value on every row, except ``keep`` (the item and each
    model's columns, which a reviewer filters on), when there are rows to compare."""
    if len(table) < 2:
        return table
    return table[[c for c in table.columns if c in keep or table[c].astype(str).nunique() > 1]]
