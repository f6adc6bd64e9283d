"""Read config YAML from users' folders without letting aliases explode.

A YAML anchor can be referred to many times, and an alias to a list of aliases
multiplies: nine lines ("billion laughs") expand to 10⁹ strings, which hang any
loader that builds the expanded value (PyYAML, OmegaConf, Hydra) until memory runs
out. The file is first *composed* (a graph in which an alias is a shared node, so
this is cheap whatever the file says); its expanded size is counted on that graph,
and a file past :data:`MAX_NODES` is refused before anything expands it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from genspec.errors import ConfigError

# A roster of a hundred models with a dozen params each is ~3,000 nodes.
MAX_NODES = 100_000


def check_file(path: Path) -> None:
    """Refuse ``path`` if its aliases expand past :data:`MAX_NODES` nodes, or refer to
    themselves. Syntax errors are left to the loader, which names the line."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return
    if root is not None and _expanded_size(root, {}, set()) > MAX_NODES:
        raise ConfigError(
            f"{path}: its YAML aliases expand to more than {MAX_NODES:,} values (a "
            "'billion laughs' file?). Write the values out, or use fewer nested aliases."
        )


def safe_load(path: Path) -> Any:
    """``yaml.safe_load`` of a file that has passed :func:`check_file`."""
    check_file(path)
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def check_folder(folder: Path) -> None:
    """Check every YAML file under a ``--config-dir`` before Hydra reads any of them."""
    for path in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
        if path.is_file():
            check_file(path)


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_: set[int]) -> int:
    """Values in ``node`` once every alias is expanded; each shared node is counted once
    and reused, so the walk is as long as the file, not as its expansion. A node that
    contains itself expands without end and counts as too large."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        return MAX_NODES + 1
    open_.add(key)
    if isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        children = []
    total = 1
    for child in children:
        total += _expanded_size(child, sizes, open_)
        if total > MAX_NODES:
            break
    open_.discard(key)
    sizes[key] = total
    return total
