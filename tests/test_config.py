"""Hydra composition and validation: bad keys and values fail before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import MOCK_MODELS, write_roster
from genspec.config.compose import compose, expand_sweep
from genspec.errors import ConfigError, UnknownNameError


def test_defaults_compose_to_the_offline_roster_on_samples() -> None:
    config, plain = compose([])
    assert config.domain == "medical"
    assert config.roster.name == "offline" and config.roster.smoke
    roles = {m.role.value: m for m in config.roster.models}
    assert set(roles) == {"generalist", "specialist", "base"}
    # the specialist is the base model with a domain adapter made on first use
    assert roles["specialist"].base == roles["base"].name
    assert roles["specialist"].params["adapter"] == "auto"
    assert config.data.source == "sample"
    assert "hydra" not in plain or plain["hydra"] is not None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["limt=3"], "Unknown config key 'limt'. Did you mean 'limit'?"),
        (["cache.mod=off"], "Did you mean 'cache.mode'?"),
        (["limit=-1"], "Bad value for 'limit'"),
        (["limit=abc"], "Bad value for 'limit'"),
        (["roster=ofline"], "Unknown roster 'ofline'. Did you mean 'offline'?"),
        (["data=locl"], "Unknown data 'locl'. Did you mean 'local'?"),
        (["data=local"], "data=local needs data.dir=DIR"),
        (["cache.mode=sometimes"], "Bad value for 'cache.mode'"),
        (["domain"], "Bad override"),
        (["judge.params.x=1"], "'judge.params' takes new keys only with a leading +"),
        (["judge.params={x:1}"], "Write +judge.params={x:1}"),
        (["limit.x=1"], "'limit' takes a value, not keys (write limit=VALUE)"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        compose(overrides)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_config_dir_adds_user_rosters(tmp_path: Path) -> None:
    write_roster(tmp_path, "mine", MOCK_MODELS)
    config, _ = compose(["roster=mine"], str(tmp_path))
    assert [m.name for m in config.roster.models] == ["generalist-a", "special-b", "base-c"]
    with pytest.raises(UnknownNameError):
        compose(["roster=mine"])


def test_roster_base_must_be_in_the_roster(tmp_path: Path) -> None:
    write_roster(tmp_path, "broken", [{**MOCK_MODELS[1], "base": "nowhere"}])
    with pytest.raises(ConfigError, match="base 'nowhere'"):
        compose(["roster=broken"], str(tmp_path))


def test_unknown_model_key_is_named(tmp_path: Path) -> None:
    write_roster(tmp_path, "typo", [{**MOCK_MODELS[0], "rol": "generalist"}])
    with pytest.raises(ConfigError, match=r"'rol' in 'roster.models.0'"):
        compose(["roster=typo"], str(tmp_path))


@pytest.mark.parametrize(
    ("roster", "message"),
    [
        ({"modls": []}, "Unknown key 'modls' in 'roster'. Did you mean 'models'?"),
        (
            {"models": [{**MOCK_MODELS[0], "rol": "base"}]},
            "Unknown key 'rol' in 'roster.models.0'. Did you mean 'role'?",
        ),
        (
            {"domains": {"legal": [{**MOCK_MODELS[0], "bse": "x"}]}},
            "Unknown key 'bse' in 'roster.domains.legal.0'. Did you mean 'base'?",
        ),
    ],
)
def test_unknown_roster_key_says_which_keys_exist(
    tmp_path: Path, roster: dict, message: str
) -> None:
    (tmp_path / "roster").mkdir()
    (tmp_path / "roster" / "typo.yaml").write_text(yaml.safe_dump(roster))
    with pytest.raises(UnknownNameError) as caught:
        compose(["roster=typo"], str(tmp_path))
    assert message in str(caught.value)


def test_a_model_preset_with_a_bad_key_is_named_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "mine.yaml").write_text(yaml.safe_dump({**MOCK_MODELS[0], "rol": 1}))
    with pytest.raises(ConfigError, match=r"Unknown key 'rol' in 'model'\. Did you mean 'role'\?"):
        compose(["model=mine"], str(tmp_path))
    (tmp_path / "model" / "mine.yaml").write_text(yaml.safe_dump({**MOCK_MODELS[0], "role": "x"}))
    with pytest.raises(ConfigError, match=r"Bad value for 'model.role'"):
        compose(["model=mine"], str(tmp_path))


def test_model_preset_replaces_the_roster() -> None:
    config, _ = compose(["model=smollm2"])
    assert [m.name for m in config.roster.models] == ["smollm2-135m"]


def test_sweep_expands_to_one_job_per_value() -> None:
    jobs = expand_sweep(["domain=medical,finance,legal", "limit=3"])
    assert jobs == [[f"domain={d}", "limit=3"] for d in ("medical", "finance", "legal")]


def test_a_roster_that_is_not_valid_yaml_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "roster").mkdir()
    (tmp_path / "roster" / "broken.yaml").write_text("models: [\n  - {name\n")
    with pytest.raises(ConfigError) as caught:
        compose(["roster=broken"], str(tmp_path))
    message = str(caught.value)
    assert f"{tmp_path / 'roster' / 'broken.yaml'} line 2, column 3: not valid YAML" in message
    assert "\n" not in message


def test_an_unset_environment_variable_in_a_roster_says_how_to_set_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GENSPEC_TEST_ENDPOINT", raising=False)
    params = {"api_base": "${oc.env:GENSPEC_TEST_ENDPOINT}"}
    write_roster(tmp_path, "env", [{**MOCK_MODELS[0], "params": params}])
    with pytest.raises(ConfigError, match="export GENSPEC_TEST_ENDPOINT=") as caught:
        compose(["roster=env"], str(tmp_path))
    assert "GENSPEC_TEST_ENDPOINT,DEFAULT" in str(caught.value)


def test_an_error_line_prints_brackets_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """The install hint names the extra in brackets; rich markup would swallow it."""
    from click.testing import CliRunner

    from genspec.cli import cli
    from genspec.config import compose as composer

    monkeypatch.setitem(composer.LAUNCHERS, "slurm", ("no_such_launcher_plugin", "slurm"))
    result = CliRunner().invoke(cli, ["run", "-m", "launcher=slurm", "domain=medical"])
    assert result.exit_code != 0
    assert 'pip install "genspec[slurm]"' in result.output


def test_a_roster_file_without_a_name_is_called_by_its_file_name(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "roster").mkdir()
    (tmp_path / "roster" / "nameless.yaml").write_text(yaml.safe_dump({"models": MOCK_MODELS}))
    config, _ = compose(["roster=nameless"], str(tmp_path))
    assert config.roster.name == "nameless"
