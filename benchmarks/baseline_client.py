"""The obvious script: the guide's reference workflow (section 3), followed literally.

What a user writes without hrec-ingest, and what the benchmark compares the
daemon with. Synchronous, standard library only. One run takes every audio
file in FILES_DIR as ONE task:

1. get an access token (guide 2.1, 3.4);
2. upload the task with all the files (2.2, 3.4.1);
3. every POLL_INTERVAL_SECONDS, get the task metadata until its status is
   ``sttDone`` or ``error`` (1.2.1, 2.3);
4. for each meeting of the task, get its metadata and its transcription
   (2.5, 2.6) and save both as JSON in OUTPUT_DIR.

Settings come from ``config.env`` (the guide's keys, section 3.3) and the
reference script's flags (section 3.1)::

    python -m benchmarks.baseline_client --config config.env -d ./files -o ./out
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

AUDIO_SUFFIXES = (".wav", ".mp3", ".m4a", ".ogg", ".flac")


def read_config(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a config.env; blank lines and # comments skipped."""
    config: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            config[key.strip()] = value.strip().strip("'\"")
    return config


def request_json(
    url: str,
    *,
    token: str | None = None,
    data: bytes | None = None,
    content_type: str | None = None,
) -> Any:
    """One HTTP request; the answer's JSON body."""
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if content_type is not None:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(req, timeout=600) as answer:
        return json.load(answer)


def get_token(config: Mapping[str, str]) -> str:
    """Guide 3.4: the password grant against Keycloak."""
    form = urllib.parse.urlencode(
        {
            "client_id": config.get("KEYCLOAK_CLIENT_ID", "browser_client"),
            "grant_type": "password",
            "username": config["USERNAME"],
            "password": config["PASSWORD"],
        }
    ).encode()
    url = f"{config['KEYCLOAK_BASE_URL']}/realms/{config['TENANT']}/protocol/openid-connect/token"
    return str(
        request_json(url, data=form, content_type="application/x-www-form-urlencoded")[
            "access_token"
        ]
    )


def multipart(task: Mapping[str, Any], files: Sequence[Path]) -> tuple[bytes, str]:
    """The form of guide 3.4.1: the ``task`` JSON, then one ``soundBlob`` per file."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="task"\r\n\r\n'.encode()
        + json.dumps(task).encode()
        + b"\r\n"
    ]
    for path in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="soundBlob"; '
            f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + path.read_bytes()
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload_task(config: Mapping[str, str], token: str, files: Sequence[Path]) -> str:
    """Guide 3.4.1: one task holding every file; returns its taskId."""
    now = datetime.now().strftime("%d.%m.%Y %H:%M")
    language = config["BASE_LANGUAGE"]
    task = {
        "tenant": config["TENANT"],
        "taskName": config.get("TASK_NAME", "Offline Upload Task"),
        "taskType": "offline",
        "taskCreationTime": now,
        "taskUpdateTime": now,
        "taskStatus": "sttPending",
        "baseLanguages": [language],
        "meetings": [
            {"files": [{"file": path.name, "baseLanguage": language}], "aiGenerationMode": "auto"}
            for path in files
        ],
        "docSections": [],
        "supervisor": {"name": "", "email": config["SUPERVISOR_EMAIL"]},
    }
    if config.get("GENERIC_ADDITIONAL_INFO"):
        task["genericAdditionalInfo"] = config["GENERIC_ADDITIONAL_INFO"]
    body, content_type = multipart(task, files)
    answer = request_json(
        f"{config['API_BASE_URL']}/hrec", token=token, data=body, content_type=content_type
    )
    return str(answer["taskId"])


def wait_for_task(config: Mapping[str, str], token: str, task_id: str) -> dict[str, Any]:
    """Guide 1.2.1 and 3.5: poll the task metadata at a steady interval until it ends."""
    interval = float(config.get("POLL_INTERVAL_SECONDS", "10"))
    while True:
        time.sleep(interval)
        task: dict[str, Any] = request_json(
            f"{config['API_BASE_URL']}/api/tasks/{task_id}", token=token
        )
        if task["taskStatus"] in ("sttDone", "error"):
            return task


def save_results(
    config: Mapping[str, str], token: str, task: Mapping[str, Any], out: Path
) -> list[Path]:
    """Guide 3.7 and 3.8: each meeting's metadata and transcription, saved as JSON."""
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    for meeting in task["meetings"]:
        meeting_id = meeting["meetingId"]
        metadata = request_json(f"{config['API_BASE_URL']}/api/meetings/{meeting_id}", token=token)
        stt = request_json(f"{config['API_BASE_URL']}/api/stt/{meeting_id}/0", token=token)
        path = out / f"{meeting_id}.json"
        path.write_text(json.dumps({"meeting": metadata, "stt": stt}, ensure_ascii=False, indent=2))
        saved.append(path)
    return saved


def run(config: Mapping[str, str], out: Path) -> list[Path]:
    """The whole workflow for the files in FILES_DIR; returns the files written."""
    files = sorted(
        p for p in Path(config["FILES_DIR"]).iterdir() if p.suffix.lower() in AUDIO_SUFFIXES
    )
    token = get_token(config)
    task_id = upload_task(config, token, files)
    print(f"taskId: {task_id}")
    task = wait_for_task(config, token, task_id)
    print(f"task {task_id}: {task['taskStatus']}")
    return save_results(config, token, task, out)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line of the reference script (guide 3.1), plus -o for the results folder."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("config.env"))
    parser.add_argument("-u", dest="USERNAME")
    parser.add_argument("-p", dest="PASSWORD")
    parser.add_argument("-t", dest="TENANT")
    parser.add_argument("--tn", dest="TASK_NAME")
    parser.add_argument("-d", dest="FILES_DIR")
    parser.add_argument("-s", dest="SUPERVISOR_EMAIL")
    parser.add_argument("-l", dest="BASE_LANGUAGE")
    parser.add_argument("--gai", dest="GENERIC_ADDITIONAL_INFO")
    parser.add_argument("-o", dest="out", type=Path, default=Path("results"))
    args = vars(parser.parse_args(argv))
    config = read_config(args.pop("config"))
    out = args.pop("out")
    config.update({key: value for key, value in args.items() if value is not None})
    run(config, out)


if __name__ == "__main__":
    main()
