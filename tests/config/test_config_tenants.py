"""Multi-tenant mode: the TOML tenants file, fallbacks to the global settings, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hrec_ingest.config import TENANT_KEYS, ConfigError, load_settings

GLOBAL = {
    "HREC_KEYCLOAK_BASE_URL": "https://kc.example.com",
    "HREC_API_BASE_URL": "https://api.example.com",
    "HREC_USERNAME": "global-user",
    "HREC_PASSWORD": "global-pw",
    "HREC_SUPERVISOR_EMAIL": "boss@example.com",
    "HREC_BASE_LANGUAGE": "Hebrew",
    "HREC_GENERIC_ADDITIONAL_INFO": '{"site": "hq"}',
}


def tenants_file(workdir: Path, text: str) -> Path:
    path = workdir / "tenants.toml"
    path.write_text(text)
    return path


def problems_of(environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as error:
        load_settings(None, environ)
    return [str(problem) for problem in error.value.problems]


def test_tenants_take_their_own_values_and_fall_back_to_the_global_ones(workdir: Path) -> None:
    (workdir / "gamma.pw").write_text("gamma-pw\n")
    path = tenants_file(
        workdir,
        """
[tenants.alpha]
USERNAME = "alice"
password = "alpha-pw"
BASE_LANGUAGE = "English"

[tenants."beta.co"]
supervisor_email = "boss@beta.example"
generic_additional_info = {team = "b", n = 2}

[tenants.gamma]
PASSWORD_FILE = "gamma.pw"
task_name = "{tenant} {date}"
""",
    )

    settings = load_settings(None, GLOBAL | {"HREC_TENANTS_FILE": "tenants.toml"})

    assert settings.multi_tenant
    alpha, beta, gamma = settings.tenants
    assert [t.name for t in settings.tenants] == ["alpha", "beta.co", "gamma"]
    assert (alpha.username, alpha.password.get_secret_value()) == ("alice", "alpha-pw")
    assert alpha.base_language == "English"
    assert alpha.supervisor_email == "boss@example.com"
    assert alpha.generic_additional_info == '{"site": "hq"}'
    assert alpha.task_name == "Offline Upload Task"
    assert (beta.username, beta.password.get_secret_value()) == ("global-user", "global-pw")
    assert beta.supervisor_email == "boss@beta.example"
    assert json.loads(beta.generic_additional_info or "") == {"team": "b", "n": 2}
    assert gamma.password.get_secret_value() == "gamma-pw"
    assert gamma.task_name == "{tenant} {date}"
    for tenant in settings.tenants:
        assert tenant.inbox == settings.files_dir / tenant.name
        assert tenant.inbox.is_dir()
    assert alpha.source_of("USERNAME") == f"{path} [tenants.alpha]"
    assert alpha.source_of("SUPERVISOR_EMAIL") == "environment HREC_SUPERVISOR_EMAIL"
    assert beta.source_of("PASSWORD") == "environment HREC_PASSWORD"
    assert gamma.source_of("PASSWORD") == (
        f"file {workdir / 'gamma.pw'} (PASSWORD_FILE from {path} [tenants.gamma])"
    )
    assert gamma.source_of("TASK_NAME") == f"{path} [tenants.gamma]"


def test_without_a_tenants_file_the_single_tenants_inbox_is_files_dir(workdir: Path) -> None:
    settings = load_settings(None, GLOBAL | {"HREC_TENANT": "solo"})
    assert not settings.multi_tenant
    (solo,) = settings.tenants
    assert solo.name == "solo"
    assert solo.inbox == settings.files_dir
    assert not (settings.files_dir / "solo").exists()


def test_tenant_is_ignored_with_a_warning_in_multi_tenant_mode(workdir: Path) -> None:
    tenants_file(workdir, "[tenants.alpha]\n")
    environ = GLOBAL | {"HREC_TENANTS_FILE": "tenants.toml", "HREC_TENANT": "solo"}

    settings = load_settings(None, environ)

    assert [t.name for t in settings.tenants] == ["alpha"]
    assert "TENANT is ignored: TENANTS_FILE names the tenants" in settings.warnings


def test_an_unknown_key_names_the_tenant_the_key_and_the_file(workdir: Path) -> None:
    path = tenants_file(workdir, '[tenants.alpha]\ncolour = "red"\n')

    problems = problems_of(GLOBAL | {"HREC_TENANTS_FILE": "tenants.toml"})

    assert problems == [
        f"colour: is not a tenant setting (a tenant may set {', '.join(TENANT_KEYS)}) "
        f"({path} [tenants.alpha])"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("top = 1\n[tenants.a]\n", "top: is not allowed at the top level; use [tenants.<name>]"),
        ('[tenants.".hidden"]\n', 'TENANTS_FILE: ".hidden" is not a tenant name'),
        ('[tenants."a/b"]\n', 'TENANTS_FILE: "a/b" is not a tenant name'),
        ('[tenants." pad"]\n', 'TENANTS_FILE: " pad" has surrounding white space'),
        ("[tenants.Demo]\n[tenants.demo]\n", "TENANTS_FILE: tenants Demo and demo differ only"),
        ("tenants = 3\n", "TENANTS_FILE: {path} defines no [tenants.<name>] table"),
        ("", "TENANTS_FILE: {path} defines no [tenants.<name>] table"),
        ("[tenants]\nalpha = 1\n", "TENANTS_FILE: tenants.alpha must be a table"),
        ("[tenants.a]\nPASSWORD = 123\n", "PASSWORD: must be a quoted string"),
        ("[tenants.a]\nUSERNAME = 'x'\nusername = 'y'\n", "username: is set twice in the table"),
        ("[tenants.a]\nTASK_NAME = '{who}'\n", 'TASK_NAME: "{who}" uses {who}'),
        ("[tenants.a]\nGENERIC_ADDITIONAL_INFO = '[1]'\n", "must be a JSON object, not an array"),
        ("[tenants.a]\ngeneric_additional_info = 5\n", "must be a string or a table"),
        ("[tenants.a\n", "TENANTS_FILE: {path} is not valid TOML"),
    ],
)
def test_mistakes_in_the_tenants_file_are_problems(workdir: Path, text: str, expected: str) -> None:
    path = tenants_file(workdir, text)

    problems = problems_of(GLOBAL | {"HREC_TENANTS_FILE": "tenants.toml"})

    assert len(problems) == 1, problems
    assert expected.replace("{path}", str(path)) in problems[0]


def test_a_missing_tenants_file_names_where_tenants_file_was_set(workdir: Path) -> None:
    assert problems_of(GLOBAL | {"HREC_TENANTS_FILE": "nope.toml"}) == [
        f"TENANTS_FILE: cannot read {workdir / 'nope.toml'}: No such file or directory "
        "(environment HREC_TENANTS_FILE)"
    ]


def test_missing_values_are_reported_per_tenant(workdir: Path) -> None:
    path = tenants_file(workdir, '[tenants.alpha]\nUSERNAME = "a"\n[tenants.beta]\n')
    environ = {k: v for k, v in GLOBAL.items() if k != "HREC_USERNAME"}

    assert problems_of(environ | {"HREC_TENANTS_FILE": str(path)}) == [
        "USERNAME: must be set for tenant beta, in its table or globally (default)"
    ]


def test_a_tenants_password_problems_name_its_table(workdir: Path) -> None:
    path = tenants_file(
        workdir,
        '[tenants.a]\nPASSWORD_FILE = "gone"\n'
        '[tenants.b]\nPASSWORD = "tenant-secret-b"\nPASSWORD_FILE = "gone"\n',
    )

    problems = problems_of(GLOBAL | {"HREC_TENANTS_FILE": str(path)})

    assert problems == [
        f"PASSWORD_FILE: cannot read {workdir / 'gone'}: No such file or directory "
        f"({path} [tenants.a])",
        f"PASSWORD_FILE: is set together with PASSWORD; keep one ({path} [tenants.b])",
    ]
    assert "tenant-secret-b" not in "\n".join(problems)


def test_a_tenants_non_strict_additional_info_is_read_with_a_warning(workdir: Path) -> None:
    path = tenants_file(workdir, "[tenants.a]\nGENERIC_ADDITIONAL_INFO = \"{'k': 'v'}\"\n")

    settings = load_settings(None, GLOBAL | {"HREC_TENANTS_FILE": str(path)})

    assert settings.tenants[0].generic_additional_info == '{"k": "v"}'
    assert settings.warnings == (
        f'GENERIC_ADDITIONAL_INFO in {path} [tenants.a] is not strict JSON; read as {{"k": "v"}}',
    )


def test_credentials_are_not_required_for_tenants_when_not_asked(workdir: Path) -> None:
    path = tenants_file(workdir, "[tenants.a]\n")
    environ = {"HREC_BASE_LANGUAGE": "Hebrew", "HREC_TENANTS_FILE": str(path)}

    settings = load_settings(None, environ, require_credentials=False)

    (tenant,) = settings.tenants
    assert tenant.username == ""
    assert tenant.password.get_secret_value() == ""
