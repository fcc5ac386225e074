"""``hrec-ingest tasks``: tasks put on the simulator over a real socket, listed back."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC
from pathlib import Path

import pytest
from click.testing import CliRunner
from command_server import SUPERVISOR, closed_port, server_settings, submit_task
from command_site import PASSWORD, Site

from hrec_ingest.commands.tasks import TasksQuery, tasks_command, tasks_report
from hrec_ingest.commands.tasks_table import ListedTask, render_table, task_cells
from hrec_ingest.miaop.models import TaskMetadataResponse
from hrec_ingest.simulator import RunningSimulator, SimulatorOptions, running_simulator

MASTER_PASSWORD = "Master-Pw-8820"


@pytest.fixture
async def sim(site: Site) -> AsyncIterator[RunningSimulator]:
    options = SimulatorOptions(
        users={"demo": {"user": PASSWORD}, "master": {"user": MASTER_PASSWORD}},
        pending_seconds=60,
        processing_seconds=60,
    )
    async with running_simulator(options) as sim:
        site.settings_text.update(server_settings(sim.url, PASSWORD))
        yield sim


def configured(site: Site, **settings: str) -> Site:
    site.settings_text.update(settings)
    return site


async def tasks(site: Site, query: TasksQuery) -> tuple[int, str, str]:
    """Run ``tasks`` with the site's settings: its status, standard output and standard error."""
    site.write_config()
    out, err = io.StringIO(), io.StringIO()
    code = await tasks_report(site.config, {}, query, out, err)
    return code, out.getvalue(), err.getvalue()


class TestListing:
    async def test_tasks_of_the_last_hour_as_a_table(
        self, site: Site, sim: RunningSimulator, tmp_path: Path
    ) -> None:
        first = await submit_task(sim, tmp_path, PASSWORD, name="morning calls", files=3)
        second = await submit_task(sim, tmp_path, PASSWORD, name="evening calls")

        code, out, err = await tasks(site, TasksQuery(since="1h"))

        assert code == 0, err
        header, *rows = out.splitlines()
        assert header.split() == [
            "TASK", "ID", "NAME", "STATUS", "CREATED", "UPDATED", "FILES", "REMAINING"
        ]  # fmt: skip
        assert [row.split()[0] for row in rows] == [first, second]
        assert "morning calls" in rows[0] and "sttPending" in rows[0]
        assert rows[0].split()[-2:] == ["3", "60s"]
        assert err.startswith("2 tasks updated since ")

    async def test_json_is_the_servers_list(
        self, site: Site, sim: RunningSimulator, tmp_path: Path
    ) -> None:
        task_id = await submit_task(sim, tmp_path, PASSWORD, name="שיחות")

        code, out, err = await tasks(site, TasksQuery(since="1h", as_json=True))

        assert code == 0, err
        (task,) = json.loads(out)
        assert task["taskId"] == task_id
        assert task["taskName"] == "שיחות"
        assert task["extraData"]["supervisor"]["email"] == SUPERVISOR
        assert task["meetings"] == [{"meetingId": f"1.{task_id}"}]
        assert err == ""

    async def test_an_ascii_output_gets_question_marks_and_escaped_json(
        self, site: Site, sim: RunningSimulator, tmp_path: Path
    ) -> None:
        task_id = await submit_task(sim, tmp_path, PASSWORD, name="שיחות")
        site.write_config()
        for as_json in (False, True):
            raw = io.BytesIO()
            out = io.TextIOWrapper(raw, encoding="ascii")
            query = TasksQuery(since="1h", as_json=as_json)

            code = await tasks_report(site.config, {}, query, out, io.StringIO())

            out.flush()
            text = raw.getvalue().decode("ascii")
            assert code == 0
            if as_json:
                assert json.loads(text)[0]["taskName"] == "שיחות"
            else:
                assert text.splitlines()[1].split()[:2] == [task_id, "?????"]

    async def test_the_window_and_the_supervisor_select(
        self, site: Site, sim: RunningSimulator, tmp_path: Path
    ) -> None:
        mine = await submit_task(sim, tmp_path, PASSWORD, name="mine")
        await submit_task(sim, tmp_path, PASSWORD, name="theirs", supervisor="other@example.com")

        code, out, _ = await tasks(site, TasksQuery(since="1h", supervisor=SUPERVISOR))
        assert code == 0
        assert [row.split()[0] for row in out.splitlines()[1:]] == [mine]

        code, out, err = await tasks(site, TasksQuery(since="2h", until="1h"))
        assert (code, out) == (0, "")
        assert err.startswith("0 tasks updated since ") and " and before " in err

    async def test_archived_tasks_only_when_asked(
        self, site: Site, sim: RunningSimulator, tmp_path: Path
    ) -> None:
        task_id = await submit_task(sim, tmp_path, PASSWORD)
        assert sim.state.archive_task(task_id)

        _, out, _ = await tasks(site, TasksQuery(since="1h", as_json=True))
        assert json.loads(out) == []
        _, out, _ = await tasks(site, TasksQuery(since="1h", as_json=True, include_archived=True))
        assert [t["taskId"] for t in json.loads(out)] == [task_id]

    async def test_a_system_account_lists_another_tenant(
        self, site: Site, sim: RunningSimulator, tmp_path: Path
    ) -> None:
        task_id = await submit_task(sim, tmp_path, PASSWORD)

        code, out, err = await tasks(
            configured(site, TENANT="master", PASSWORD=MASTER_PASSWORD),
            TasksQuery(since="1h", tenant="demo"),
        )

        assert code == 0, err
        assert "tenant 'demo' is not configured: listing with the account of tenant 'master'" in err
        header, row = out.splitlines()
        assert header.split()[-1] == "TENANT"
        assert row.split()[0] == task_id and row.split()[-1] == "demo"


class TestErrors:
    async def test_wrong_password(self, site: Site, sim: RunningSimulator) -> None:
        code, out, err = await tasks(configured(site, PASSWORD="Wrong-Pw-3141"), TasksQuery())

        assert (code, out) == (1, "")
        assert err.startswith(
            "hrec-ingest tasks: Keycloak refused the user name or password of 'user' in tenant "
            "'demo' (invalid_grant; Invalid user credentials). Fix: check USERNAME and PASSWORD"
        )
        assert "Wrong-Pw-3141" not in err

    async def test_server_down(self, site: Site) -> None:
        url = f"http://127.0.0.1:{closed_port()}"
        site.settings_text.update(server_settings(url, PASSWORD))

        code, _, err = await tasks(site, TasksQuery())

        assert code == 1
        assert f"nothing answers at {url.removeprefix('http://')} (connection refused)" in err

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            (TasksQuery(since="yesterday"), "--since: 'yesterday' is not a time; use an ISO"),
            (TasksQuery(until="soon"), "--until: 'soon' is not a time"),
            (TasksQuery(since="1h", until="2h"), "--since ("),
        ],
    )
    async def test_bad_times(
        self, site: Site, sim: RunningSimulator, query: TasksQuery, message: str
    ) -> None:
        code, out, err = await tasks(site, query)

        assert (code, out) == (1, "")
        assert err.startswith(f"hrec-ingest tasks: {message}")

    async def test_bad_settings_exit_1(self, site: Site, sim: RunningSimulator) -> None:
        code, _, err = await tasks(configured(site, POLL_INTERVAL_SECONDS="ten"), TasksQuery())

        assert code == 1
        assert err.startswith("hrec-ingest: configuration: POLL_INTERVAL_SECONDS: ")


class TestTable:
    def test_cells_of_a_task_the_guide_describes(self) -> None:
        task = TaskMetadataResponse.model_validate(
            {
                "taskId": "t1",
                "taskName": "a name\nthat is far too long to be shown whole in a table",
                "taskStatus": "sttDone",
                "sttRemainingTime": 1000,
                "taskCreationTime": "15.07.2025 10:30",
                "extraData": {"taskUpdateTimeNumeric": 1754006400},
                "meetings": [{"meetingId": "1.t1"}, {"meetingId": "2.t1"}],
            }
        )

        cells = task_cells(task, UTC)

        assert cells == [
            "t1",
            "a name that is far too long to be sho...",
            "sttDone",
            "15.07.2025 10:30",
            "2025-08-01 00:00:00",
            "2",
            "-",
        ]

    def test_rows_are_aligned_oldest_first(self) -> None:
        def task(task_id: str, updated: int) -> ListedTask:
            document = {
                "taskId": task_id,
                "taskStatus": "sttProcessing",
                "sttRemainingTime": 7.2,
                "extraData": {"taskUpdateTimeNumeric": updated},
            }
            return ListedTask("demo", TaskMetadataResponse.model_validate(document))

        lines = render_table([task("late", 200), task("early-task", 100)], show_tenant=False)

        assert [line.split()[0] for line in lines[1:]] == ["early-task", "late"]
        assert lines[1].index("sttProcessing") == lines[2].index("sttProcessing")
        assert lines[1].endswith("8s")


def test_help_says_what_it_does_with_an_example() -> None:
    result = CliRunner().invoke(tasks_command, ["--help"])

    assert result.exit_code == 0
    assert "Example: hrec-ingest tasks --since 7d" in result.output
    assert "local time" in result.output
