"""Server-side failures end to end: meeting and task errors, a refused file, unknown tenants."""

from __future__ import annotations

import json

from harness import (
    PASSWORD,
    Deployment,
    make_wav,
    sha256,
    transcript_files,
    visible_files,
    wait_for,
)


def error_of(d: Deployment, rel: str, tenant: str = "demo") -> dict[str, object]:
    document = json.loads((d.failed / tenant / f"{rel}.error.json").read_text())
    assert isinstance(document, dict)
    return document


async def test_meeting_error_fails_its_file_and_exports_its_batch_mates(
    deployment: Deployment,
) -> None:
    d = deployment
    d.sim.options.error_files = ("bad-*.wav",)
    d.settings["BATCH_MAX_FILES"] = "3"
    good = {f"good-{i}.wav": make_wav(d.inbox / f"good-{i}.wav", seed=i) for i in range(2)}
    make_wav(d.inbox / "bad-1.wav", seed=50)
    daemon = d.start()
    await wait_for(lambda: len(visible_files(d.archive)) == 2, 30, "good files archived")
    await wait_for(lambda: (d.failed / "demo" / "bad-1.wav").exists(), 30, "bad file failed")
    reason = error_of(d, "bad-1.wav")
    assert reason["stage"] == "process"
    error = reason["error"]
    assert isinstance(error, dict) and error["name"] and error["message"]
    assert reason["taskId"] in d.sim.state.tasks
    assert str(reason["meetingId"]).endswith(f".{reason['taskId']}")
    for name, data in good.items():
        assert (d.archive / "demo" / name).read_bytes() == data
        assert (d.out / "demo" / name.replace(".wav", ".json")).exists()
    assert not (d.out / "demo" / "bad-1.json").exists()
    assert visible_files(d.inbox) == []
    assert await d.stop(daemon) == 0


async def test_task_error_fails_all_its_files(deployment: Deployment) -> None:
    d = deployment
    d.sim.options.task_error_files = ("doomed.wav",)
    d.settings["BATCH_MAX_FILES"] = "2"
    d.settings["BATCH_MAX_WAIT_SECONDS"] = "3"
    make_wav(d.inbox / "doomed.wav", seed=1)
    make_wav(d.inbox / "mate.wav", seed=2)
    daemon = d.start()
    await wait_for(lambda: len(visible_files(d.failed)) == 4, 30, "both files failed")
    for name in ("doomed.wav", "mate.wav"):
        reason = error_of(d, name)
        assert reason["stage"] == "process"
    assert transcript_files(d.out) == []
    assert await d.stop(daemon) == 0


async def test_refused_file_is_found_and_the_other_seven_go_on(deployment: Deployment) -> None:
    d = deployment
    d.sim.options.reject_files = ("refused.wav",)
    d.settings["BATCH_MAX_FILES"] = "8"
    d.settings["BATCH_MAX_WAIT_SECONDS"] = "2"
    good = {f"ok-{i}.wav": make_wav(d.inbox / f"ok-{i}.wav", seed=i) for i in range(7)}
    make_wav(d.inbox / "refused.wav", seed=99)
    daemon = d.start()
    await wait_for(lambda: len(visible_files(d.archive)) == 7, 60, "the seven archived")
    await wait_for(lambda: (d.failed / "demo" / "refused.wav").exists(), 30, "refused failed")
    reason = error_of(d, "refused.wav")
    assert reason["stage"] == "submit"
    error = reason["error"]
    assert isinstance(error, dict) and "refused.wav" in str(error["message"])
    for name, data in good.items():
        assert d.uploads_of(sha256(data)) == 1, name
    assert await d.stop(daemon) == 0


async def test_unknown_tenant_folder_is_left_untouched(deployment: Deployment) -> None:
    d = deployment
    d.sim.options.users = {"demo": {"user": PASSWORD}, "acme": {"bob": PASSWORD + "b"}}
    tenants = d.root / "tenants.toml"
    tenants.write_text(
        "[tenants.demo]\n"
        '[tenants.acme]\nUSERNAME = "bob"\n'
        f'PASSWORD = "{PASSWORD}b"\nBASE_LANGUAGE = "Hebrew"\n'
    )
    d.settings.pop("TENANT")
    d.settings["TENANTS_FILE"] = str(tenants)
    demo = make_wav(d.inbox / "demo" / "a.wav", seed=1)
    acme = make_wav(d.inbox / "acme" / "sub" / "b.wav", seed=2)
    stranger = make_wav(d.inbox / "stranger" / "c.wav", seed=3)
    daemon = d.start()
    await wait_for(lambda: len(visible_files(d.archive)) == 2, 30, "both tenants archived")
    assert (d.archive / "demo" / "a.wav").read_bytes() == demo
    assert (d.archive / "acme" / "sub" / "b.wav").read_bytes() == acme
    assert (d.out / "acme" / "sub" / "b.json").exists()
    languages = {t.tenant: t.base_languages for t in d.sim.state.tasks.values()}
    assert languages == {"demo": ["English"], "acme": ["Hebrew"]}
    assert (d.inbox / "stranger" / "c.wav").read_bytes() == stranger
    assert d.uploads_of(sha256(stranger)) == 0
    assert any(
        e.get("folder") == "stranger" for e in daemon.events("watcher.unknown_tenant_folder")
    )
    assert await d.stop(daemon) == 0


async def test_a_wrong_api_url_fails_no_file_and_recovers_once_fixed(
    deployment: Deployment,
) -> None:
    d = deployment
    good_url = d.settings["API_BASE_URL"]
    d.settings["API_BASE_URL"] = f"{good_url}/no-such-prefix"
    data = make_wav(d.inbox / "call.wav", seed=3)
    daemon = d.start()
    await wait_for(
        lambda: any(e.get("level") == "error" for e in daemon.events("task.submit_deferred")),
        30,
        "the refused upload deferred as an error for the operator",
    )
    deferred = daemon.events("task.submit_deferred")[0]
    assert "API_BASE_URL" in str(deferred["reason"])
    assert visible_files(d.failed) == []
    assert (d.inbox / "call.wav").read_bytes() == data
    assert await d.stop(daemon) == 0
    d.settings["API_BASE_URL"] = good_url
    daemon = d.start()
    await wait_for(lambda: len(visible_files(d.archive)) == 1, 30, "archived once the URL is right")
    assert d.uploads_of(sha256(data)) == 1
    assert await d.stop(daemon) == 0
