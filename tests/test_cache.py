"""The answer cache: modes, both stores, many concurrent writers without 'database is
locked', per-host caches merged into one, and a full disk that stops the run instead of
dropping billed answers."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import tmpfs
from genspec.cache import CacheWriteError, ResponseCache, open_store
from genspec.cache.merge import merge
from genspec.cli import cli
from genspec.config.compose import compose
from genspec.config.schema import CacheConfig
from genspec.errors import ConfigError
from genspec.fake_api import FakeOpenAIServer, default_answer
from genspec.requests import Response

STORES = ("sqlite", "files")


def _key(worker: int, i: int) -> str:
    return f"{worker:032x}{i:032x}"  # the shape of request_key(): 64 hex digits


def _writer(directory: str, store: str, worker: int, count: int) -> None:
    cache = ResponseCache(CacheConfig(dir=directory, store=store))
    for i in range(count):
        cache.put(_key(worker, i), "m", Response(text=f"{worker}:{i}", input_tokens=i))
    cache.close()


@pytest.mark.parametrize("store", STORES)
def test_concurrent_processes_lose_nothing(tmp_path: Path, store: str) -> None:
    workers, count = 4, 150
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_writer, args=(str(tmp_path), store, w, count))
        for w in range(workers)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join(60)
    assert all(p.exitcode == 0 for p in processes)
    cache = ResponseCache(CacheConfig(dir=str(tmp_path), store=store))
    keys = [_key(w, i) for w in range(workers) for i in range(count)]
    found = cache.get_many(keys)
    assert len(found) == workers * count
    assert found[_key(3, 149)].text == "3:149" and found[_key(3, 149)].cached


@pytest.mark.parametrize("store", STORES)
def test_modes(tmp_path: Path, store: str) -> None:
    answer = Response(text="x", logprobs=(-1.0, -2.0))
    k, other = _key(0, 1), _key(0, 2)
    writer = ResponseCache(CacheConfig(dir=str(tmp_path), mode="writeonly", store=store))
    writer.put(k, "m", answer)
    assert writer.get_many([k]) == {}
    reader = ResponseCache(CacheConfig(dir=str(tmp_path), mode="readonly", store=store))
    assert reader.get_many([k])[k].logprobs == (-1.0, -2.0)
    reader.put(other, "m", answer)
    assert reader.get_many([other]) == {}
    off = ResponseCache(CacheConfig(dir=str(tmp_path / "none"), mode="off", store=store))
    off.put(k, "m", answer)
    assert off.get_many([k]) == {} and not (tmp_path / "none").exists()


@pytest.mark.parametrize("store", STORES)
def test_errors_are_not_cached_so_the_next_run_retries(tmp_path: Path, store: str) -> None:
    cache = ResponseCache(CacheConfig(dir=str(tmp_path), store=store))
    cache.put(_key(0, 0), "m", Response(error="HTTP 500"))
    assert cache.get_many([_key(0, 0)]) == {}


def test_the_store_is_chosen_on_the_command_line() -> None:
    config, _ = compose(["domain=medical", "roster=fake-api", "cache.store=files"])
    assert config.cache.store == "files"
    with pytest.raises(ConfigError, match=r"cache\.store"):
        compose(["domain=medical", "roster=fake-api", "cache.store=nfs"])


def test_a_file_store_entry_is_whole_or_absent(tmp_path: Path) -> None:
    """A write killed before its rename leaves only a hidden temporary file: readers and
    merges never see it, and the key counts as not answered."""
    store = open_store(tmp_path, "files")
    store.put(_key(1, 1), "m", Response(text="whole").to_json())
    half = tmp_path / "answers" / _key(1, 2)[:2] / f".{_key(1, 2)}.dead.tmp"
    half.write_text('{"key": "')  # what a killed writer leaves
    assert set(store.get_many([_key(1, 1), _key(1, 2)])) == {_key(1, 1)}
    assert [key for key, _, _ in store.entries()] == [_key(1, 1)]
    with pytest.raises(ValueError, match="not a cache key"):
        store.put("../../escape", "m", "{}")


def test_merge_keeps_each_answer_once_from_both_kinds_of_store(tmp_path: Path) -> None:
    host_a = ResponseCache(CacheConfig(dir=str(tmp_path / "a"), store="sqlite"))
    host_b = ResponseCache(CacheConfig(dir=str(tmp_path / "b"), store="files"))
    for i in range(5):
        host_a.put(_key(0, i), "m", Response(text=f"a{i}"))
    for i in range(3, 8):  # keys 3 and 4 were answered on both hosts
        host_b.put(_key(0, i), "m", Response(text=f"b{i}"))
    host_a.close()
    host_b.close()
    merged = merge([tmp_path / "a", tmp_path / "b"], tmp_path / "shared")
    assert (merged.added, merged.present) == (8, 2)
    shared = open_store(tmp_path / "shared", "files")
    assert sorted(key for key, _, _ in shared.entries()) == [_key(0, i) for i in range(8)]
    again = merge([tmp_path / "a", tmp_path / "b"], tmp_path / "shared")
    assert (again.added, again.present) == (0, 10)  # a repeated merge adds nothing


def test_merging_a_folder_without_a_cache_names_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["cache", "merge", str(tmp_path), "--into", str(tmp_path / "s")]
    )
    assert result.exit_code != 0
    assert f"No answer cache in {tmp_path}" in result.output


@pytest.mark.parametrize("store", STORES)
def test_a_full_disk_stops_the_writer_and_keeps_what_fitted(tmp_path: Path, store: str) -> None:
    with tmpfs(tmp_path / "small", "size=64k") as folder:
        cache = ResponseCache(CacheConfig(dir=str(folder), store=store))
        answer = Response(text="x" * 1500)
        with pytest.raises(CacheWriteError) as raised:
            for i in range(200):
                cache.put(_key(0, i), "m", answer)
        kept = cache.stored
        assert 0 < kept < 200
        assert f"{kept} answer(s) of this run are kept" in str(raised.value)
        assert "\n" not in str(raised.value)
        found = cache.get_many(_key(0, i) for i in range(200))
        assert sorted(found) == [_key(0, i) for i in range(kept)]  # every kept one is whole


def _sqlite_count(folder: Path) -> int:
    store = open_store(folder, "sqlite")
    try:
        return sum(1 for _ in store.entries())
    finally:
        store.close()


def _filling(folder: Path, leave: int) -> Callable[[dict[str, Any]], str]:
    """The fake API's answers, but its first call fills ``folder`` up to ``leave`` bytes
    free: the disk runs full in the middle of a run, as when another job writes there."""

    filled: list[bool] = []

    def policy(body: dict[str, Any]) -> str:
        if not filled:
            filled.append(True)
            free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
            with open(folder / "filler", "wb") as file:
                os.posix_fallocate(file.fileno(), 0, max(free - leave, 1))
        return default_answer(body)

    return policy


def test_a_run_on_a_full_disk_stops_with_a_count_and_the_rerun_pays_only_the_rest(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 20 item 1: the server billed 36 calls, the cache dropped 30 answers and the
    run ended with exit 0 on n = 1. Now the run stops at the first answer it cannot keep,
    says how many it kept, and the rerun (with room) pays only for the others."""
    with contextlib.ExitStack() as stack:
        folder = stack.enter_context(tmpfs(workdir / "small", "size=16m"))
        server = stack.enter_context(FakeOpenAIServer(policy=_filling(folder, 48 * 1024)))
        monkeypatch.setenv("GENSPEC_FAKE_API_BASE", server.url)
        args = ["run", "domain=medical", "roster=fake-api", "limit=6", f"cache.dir={folder}"]
        full = CliRunner().invoke(cli, args)
        assert full.exit_code != 0, full.output
        line = next(x for x in full.output.splitlines() if "could not store an answer" in x)
        kept = int(line.split(" answer(s) of this run are kept")[0].rsplit(" ", 1)[1])
        assert kept > 0 and _sqlite_count(folder) == kept
        first_calls = server.calls
        (folder / "filler").unlink()  # room again
        rerun = CliRunner().invoke(cli, args)
        assert rerun.exit_code == 0, rerun.output
        answered = _sqlite_count(folder)
        assert server.calls - first_calls == answered - kept  # nothing kept was paid twice
        assert first_calls < answered  # the first run stopped instead of paying for all
