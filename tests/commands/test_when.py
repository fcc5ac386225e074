"""The --since/--until parser: ISO dates and times, ages, and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hrec_ingest.commands.when import UNIT_SECONDS, WhenError, parse_when

NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
JERUSALEM = ZoneInfo("Asia/Jerusalem")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", NOW - timedelta(seconds=90)),
        ("30m", NOW - timedelta(minutes=30)),
        ("24h", NOW - timedelta(hours=24)),
        ("7d", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(weeks=2)),
        ("1h30m", NOW - timedelta(minutes=90)),
        ("1.5h", NOW - timedelta(minutes=90)),
        (" 24h ", NOW - timedelta(hours=24)),
        ("now", NOW),
        ("NOW", NOW),
        ("2026-11-20T10:00Z", datetime(2026, 11, 20, 10, 0, tzinfo=UTC)),
        (
            "2026-11-20T10:00:00+02:00",
            datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=JERUSALEM)),
        ("2026-11-20T10:00", datetime(2026, 11, 20, 10, 0, tzinfo=JERUSALEM)),
        ("2026-11-20 10:00:30", datetime(2026, 11, 20, 10, 0, 30, tzinfo=JERUSALEM)),
        # Summer time in the given zone, not the offset of "now".
        ("2026-07-01T10:00", datetime(2026, 7, 1, 7, 0, tzinfo=UTC)),
    ],
)
def test_accepted_forms(text: str, expected: datetime) -> None:
    assert parse_when(text, now=NOW, local_zone=JERUSALEM) == expected


def test_a_naive_time_is_this_machines_local_time_by_default() -> None:
    parsed = parse_when("2026-11-20T10:00", now=NOW)
    assert parsed.utcoffset() is not None
    assert parsed == datetime(2026, 11, 20, 10, 0).astimezone()


@pytest.mark.parametrize(
    "text", ["", "yesterday", "24", "h", "24 h", "-1h", "1y", "30M", "2026-13-01", "1h 30m", "1e3s"]
)
def test_the_error_names_the_flag_and_the_forms(text: str) -> None:
    with pytest.raises(WhenError) as error:
        parse_when(text, now=NOW, flag="--since")
    message = str(error.value)
    assert message.startswith(f"--since: {text!r} is not a time; use an ISO date")
    assert "30m, 24h, 7d" in message and "local time" in message


def test_an_age_beyond_the_calendar() -> None:
    with pytest.raises(WhenError, match=r"^--until: '9999999d' reaches back before the year 1"):
        parse_when("9999999d", now=NOW, flag="--until")
    with pytest.raises(WhenError, match="reaches back"):
        parse_when("9" * 400 + "s", now=NOW)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_when("1h", now=datetime(2026, 11, 20))


@given(amount=st.integers(min_value=0, max_value=10**4), unit=st.sampled_from(list(UNIT_SECONDS)))
def test_an_age_is_that_long_before_now(amount: int, unit: str) -> None:
    assert parse_when(f"{amount}{unit}", now=NOW) == NOW - timedelta(
        seconds=amount * UNIT_SECONDS[unit]
    )


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2200, 1, 1),
        # Fixed offsets: a zone's imaginary times (in a DST gap) print an offset they do not have.
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
        ),
    )
)
def test_an_aware_iso_time_means_itself(moment: datetime) -> None:
    assert parse_when(moment.isoformat(), now=NOW) == moment


@given(st.text(max_size=30))
def test_any_text_parses_or_says_why(text: str) -> None:
    try:
        parsed = parse_when(text, now=NOW, local_zone=UTC, flag="--since")
    except WhenError as exc:
        assert str(exc).startswith("--since: ")
    else:
        assert parsed.utcoffset() is not None
