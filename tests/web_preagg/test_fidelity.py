"""A backfilled team-day equals what PostHog's daily job writes: one case per rule where the package's
earlier rule and PostHog's differ, on hand-made events that separate the two choices. Each case checks
the named column directly and the whole team-day against the oracle (tests/web_preagg/oracle.py, written
from PostHog's SQL). The README's fidelity table lists these rules and the deliberate differences."""

from __future__ import annotations

import datetime as dt
import json
import uuid as uuidlib

import oracle
import pytest
from wp_helpers import BOUNCES, STATS, finalized, oracle_team_day, tq

from backfill.clickhouse import QueryTag
from backfill.web_preagg.recompute import insert_preaggregated

TEAM = 77  # no demo data: every event of the team-day is made here
DAY = dt.date(2024, 3, 15)
MIDNIGHT = dt.datetime.combine(DAY, dt.time(), dt.UTC)


def uuid7(at: dt.datetime, n: int = 0) -> str:
    """A UUIDv7 whose embedded time is ``at`` (a session id minted then)."""
    ms = int(at.timestamp() * 1000)
    return str(uuidlib.UUID(int=(ms << 80) | (7 << 76) | (0x8 << 60) | n))


class Events:
    def __init__(self, ch):
        self.ch, self.n = ch, 0

    def add(
        self, session: str, at: dt.datetime, *, event="$pageview", distinct_id="anon", person=None, **props
    ):
        self.n += 1
        properties = {
            "$current_url": "https://shop.example/",
            "$pathname": "/",
            "$host": "shop.example",
            **props,
        }
        self.ch.query(
            tq("insert_event"),
            {
                "uuid": str(uuidlib.UUID(int=self.n)),
                "event": event,
                "properties": json.dumps(properties),
                "ts": at,
                "team_id": TEAM,
                "distinct_id": distinct_id,
                "person_id": person or str(uuidlib.UUID(int=1000)),
                "session_id": session,
            },
        )


@pytest.fixture
def events(world):
    return Events(world)


def computed(ch) -> dict[str, list[dict]]:
    """Both tables of the team-day as the package writes them, checked whole against the oracle."""
    for table in (STATS, BOUNCES):
        insert_preaggregated(ch, table, table, [TEAM], DAY, DAY, QueryTag("tests"))
    got = {"stats": finalized(ch, STATS, TEAM, DAY), "bounces": finalized(ch, BOUNCES, TEAM, DAY)}
    expected = oracle_team_day(ch, TEAM, DAY)
    assert oracle.comparable(got["stats"]) == expected["stats"]
    assert oracle.comparable(got["bounces"]) == expected["bounces"]
    return got


def at(hours: float) -> dt.datetime:
    return MIDNIGHT + dt.timedelta(hours=hours)


A, B = str(uuidlib.UUID(int=0xA)), str(uuidlib.UUID(int=0xB))


def test_bounces_person_is_the_sessions_last_and_stats_one_person_per_session_group(world, events):
    """An identify mid-session: anon (person A) becomes user (person B). PostHog: bounces take
    argMax(person, timestamp) (B), stats one person per session and dimension group."""
    s1, s2 = uuid7(at(10)), uuid7(at(10), 1)
    events.add(s1, at(10), distinct_id="anon", person=A)
    events.add(s1, at(10.01), distinct_id="anon", person=A)
    events.add(s1, at(10.02), distinct_id="user", person=B)  # identified
    events.add(s2, at(10.5), distinct_id="user", person=B)  # a second session of B, same dimensions
    got = computed(world)
    (bounces,) = got["bounces"]
    assert bounces["sessions"] == 2 and bounces["persons"] == 1  # first-event person would give 2 (A, B)
    (stats,) = got["stats"]
    assert stats["pageviews"] == 4 and stats["persons"] == 1  # per-event persons would give 2


def test_a_merge_override_replaces_the_events_person(world, events):
    s1 = uuid7(at(9))
    events.add(s1, at(9), distinct_id="old-device", person=A)
    world.query(
        tq("insert_override"), {"team_id": TEAM, "distinct_id": "old-device", "person_id": B, "version": 1}
    )
    events.add(uuid7(at(9.5)), at(9.5), distinct_id="user", person=B)
    got = computed(world)
    assert sum(r["sessions"] for r in got["bounces"]) == 2 and {r["persons"] for r in got["bounces"]} == {1}
    assert len(got["bounces"]) == 1  # both sessions in one group, one person: the override's


@pytest.mark.parametrize("click", ["gclid", "fbclid"])
def test_the_literal_null_click_id_is_no_click(world, events, click):
    events.add(uuid7(at(8)), at(8), **{click: "null"})
    events.add(uuid7(at(8), 1), at(8.1), **{click: "Cj0KCQ"})
    got = computed(world)
    assert sorted(r[f"has_{click}"] for r in got["bounces"]) == [False, True]


def test_duration_counts_second_boundaries(world, events):
    """dateDiff('second'): 00.900 -> 10.100 crosses 10 boundaries (9.2 s elapsed): duration 10, so a
    one-pageview session is no bounce. "last - first" would say 9 and a bounce."""
    s = uuid7(at(12))
    start = at(12) + dt.timedelta(milliseconds=900)
    events.add(s, start)
    events.add(s, start + dt.timedelta(seconds=9, milliseconds=200), event="$pageleave")
    (row,) = computed(world)["bounces"]
    assert (row["duration"], row["bounces"], row["pageviews"]) == (10, 0, 1)


def test_sessions_are_selected_by_id_time_within_24_hours_before_the_day(world, events):
    """The daily job selects sessions whose UUIDv7 time is in [D - 24 h, D + 1 day): a session id minted
    23 h before the day counts, one minted 25 h before or after the day does not (client clocks)."""
    events.add(uuid7(MIDNIGHT - dt.timedelta(hours=23)), at(1), utm_source="minted-23h-before")
    events.add(uuid7(MIDNIGHT - dt.timedelta(hours=25)), at(2), utm_source="minted-25h-before")
    events.add(uuid7(MIDNIGHT + dt.timedelta(days=1, hours=2)), at(3), utm_source="minted-after-the-day")
    got = computed(world)
    assert {r["utm_source"] for r in got["bounces"]} == {"minted-23h-before"}


def test_city_is_the_geoip_city_name_property(world, events):
    """PostHog's raw_sessions column is initial_geoip_subdivision_city_name, fed from $geoip_city_name
    (there is no $geoip_subdivision_city_name property; a stray one is ignored)."""
    events.add(
        uuid7(at(14)), at(14), **{"$geoip_city_name": "Leipzig", "$geoip_subdivision_city_name": "Nope"}
    )
    got = computed(world)
    assert [r["city_name"] for r in got["bounces"]] == ["Leipzig"]
    assert [r["city_name"] for r in got["stats"]] == ["Leipzig"]


def test_bounce_row_host_is_the_first_counted_events(world, events):
    """A deliberate difference: PostHog takes any() host/device/browser/OS/viewport for a bounces row;
    the package the first counted event's (deterministic; equal whenever the session keeps them)."""
    s = uuid7(at(16))
    events.add(s, at(16), **{"$host": "first.example", "$browser": "Firefox"})
    events.add(s, at(16.01), **{"$host": "second.example", "$browser": "Chrome"})
    (row,) = computed(world)["bounces"]
    assert (row["host"], row["browser"]) == ("first.example", "Firefox")
