"""An independent oracle: the pre-aggregated tables recomputed in plain Python from raw rows.

Written from PostHog's daily job (web_preaggregated sql.py, sessions_v2.py) and the README's rules,
not from the package's SQL: it shares no code or SQL with the package beyond reading raw rows. Sessions
are built from every event of a UUIDv7 session id; a session counts on the day and hour its first event
happened, if its id's UUIDv7 time is within 24 h before that day or on it (the daily job's session
range); its $pageview/$screen events count until 1 h after the end of that day, every stored row (the
daily job reads events without FINAL; ``dedupe=True``: one per uuid, the latest ingested); duration is
dateDiff('second'): second boundaries crossed. The person is the distinct id's latest non-deleted
override, else the event's person. Stats: page, device and geo from the event (region_name from the
session), one person per session and dimension group (PostHog any(); here the group's last event's).
Bounces: geo from the session; host, device, browser, OS and viewport from the first counted event
(PostHog any()), the person from the last (PostHog argMax(person_id, timestamp)).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid as uuidlib
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlparse

COUNTED = ("$pageview", "$screen")
BOUNCE_EVENTS = ("$pageview", "$screen", "$autocapture")


def _utc(ts: dt.datetime) -> dt.datetime:
    return ts.astimezone(dt.UTC) if ts.tzinfo else ts.replace(tzinfo=dt.UTC)


def _str(props: dict, key: str) -> str:
    v = props.get(key)
    return v if isinstance(v, str) else ("" if v is None else json.dumps(v))


def _int(props: dict, key: str) -> int:
    v = props.get(key)
    if isinstance(v, bool) or v is None:
        return 0
    if isinstance(v, int | float):
        return int(v)
    try:
        return int(float(v))
    except ValueError:
        return 0


def _path(url: str) -> str:
    return urlparse(url).path if url else ""


def uuid7_time(session_id: str) -> dt.datetime:
    """The UUIDv7's embedded time: its first 48 bits are Unix milliseconds."""
    return dt.datetime.fromtimestamp((uuidlib.UUID(session_id).int >> 80) / 1000, dt.UTC)


def _is_v7(session_id: str) -> bool:
    try:
        return uuidlib.UUID(session_id).version == 7
    except ValueError:
        return False


@dataclass
class Session:
    events: list = field(default_factory=list)  # every stored event row of the session (any type)

    def ordered(self):
        return sorted(self.events, key=lambda e: (e["ts"], e["uuid"]))

    @property
    def start(self) -> dt.datetime:
        return min(e["ts"] for e in self.events)

    @property
    def duration(self) -> int:
        end = max(e["ts"] for e in self.events)
        return math.floor(end.timestamp()) - math.floor(self.start.timestamp())

    @property
    def first(self) -> dict:
        return self.ordered()[0]

    @property
    def is_bounce(self) -> bool | None:
        n = len({e["uuid"] for e in self.events if e["event"] in BOUNCE_EVENTS})
        if n == 0:
            return None
        return not (n > 1 or self.duration >= 10)

    def values(self) -> dict:
        first, last = self.first["props"], self.ordered()[-1]["props"]
        return {
            "entry_pathname": _path(_str(first, "$current_url")),
            "end_pathname": _path(_str(last, "$current_url")),
            "referring_domain": _str(first, "$referring_domain"),
            **{
                k: _str(first, k)
                for k in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
            },
            "has_gclid": _str(first, "gclid") not in ("", "null"),  # PostHog: notEmpty AND != 'null'
            "has_gad_source_paid_search": _str(first, "gad_source") == "1",
            "has_fbclid": _str(first, "fbclid") not in ("", "null"),
            "s_country_code": _str(first, "$geoip_country_code"),
            "s_city_name": _str(first, "$geoip_city_name"),
            "s_region_code": _str(first, "$geoip_subdivision_1_code"),
            "s_region_name": _str(first, "$geoip_subdivision_1_name"),
        }


def overrides_by_distinct_id(override_rows) -> dict[tuple[int, str], str]:
    latest: dict[tuple[int, str], dict] = {}
    for r in override_rows:
        key = (int(r["team_id"]), r["distinct_id"])
        if key not in latest or r["version"] > latest[key]["version"]:
            latest[key] = r
    return {k: r["person_id"] for k, r in latest.items() if not r["is_deleted"]}


def sessions_of(event_rows, dedupe: bool = False) -> dict[tuple[int, str], Session]:
    rows = list(event_rows)
    if dedupe:
        by_uuid: dict[str, dict] = {}
        for r in rows:  # one row per uuid: the latest ingested copy
            if r["uuid"] not in by_uuid or r["_timestamp"] >= by_uuid[r["uuid"]]["_timestamp"]:
                by_uuid[r["uuid"]] = r
        rows = list(by_uuid.values())
    sessions: dict[tuple[int, str], Session] = defaultdict(Session)
    for r in rows:
        if r["session_id"] and _is_v7(r["session_id"]):
            e = {
                "uuid": r["uuid"],
                "event": r["event"],
                "ts": _utc(r["timestamp"]),
                "distinct_id": r["distinct_id"],
                "person_id": r["person_id"],
                "session_id": r["session_id"],
                "props": json.loads(r["properties"] or "{}"),
            }
            sessions[(int(r["team_id"]), str(uuidlib.UUID(r["session_id"])))].events.append(e)
    return sessions


class Oracle:
    """Built once from raw rows; ``team_day`` recomputes one team-day of both tables."""

    def __init__(self, event_rows, override_rows, dedupe: bool = False):
        self.sessions = sessions_of(event_rows, dedupe)
        self.overrides = overrides_by_distinct_id(override_rows)

    def team_day(self, team_id: int, day: dt.date) -> dict[str, list[dict]]:
        return compute(self.sessions, self.overrides, team_id, day)


def compute(sessions, overrides, team_id: int, day: dt.date) -> dict[str, list[dict]]:
    """{"stats": rows, "bounces": rows} for one team-day, shaped like the finalized_*.sql results."""
    midnight = dt.datetime.combine(day, dt.time(), dt.UTC)
    stats: dict[tuple, dict] = defaultdict(lambda: {"persons": set(), "sessions": set(), "pageviews": 0})
    bounces: dict[tuple, dict] = defaultdict(
        lambda: {
            "persons": set(),
            "sessions": set(),
            "pageviews": 0,
            "bounces": 0,
            "duration": 0,
            "session_count": 0,
        }
    )
    for (team, session_id), session in sessions.items():
        if team != team_id or session.start.date() != day:
            continue
        if not midnight - dt.timedelta(hours=24) <= uuid7_time(session_id) < midnight + dt.timedelta(days=1):
            continue  # outside the daily job's session range
        counted = [
            e
            for e in session.ordered()
            if e["event"] in COUNTED and e["ts"] < midnight + dt.timedelta(days=1, hours=1)
        ]
        if not counted:
            continue
        s = session.values()
        bucket = session.start.replace(minute=0, second=0, microsecond=0).strftime("%Y-%m-%d %H:%M:%S")
        session_dims = (
            s["referring_domain"], s["utm_source"], s["utm_medium"], s["utm_campaign"], s["utm_term"],
            s["utm_content"],
        )  # fmt: skip
        clicks = (s["has_gclid"], s["has_gad_source_paid_search"], s["has_fbclid"])

        last_in_group: dict[tuple, dict] = {}
        for e in counted:
            p = e["props"]
            key = (
                bucket, _str(p, "$host"), _str(p, "$device_type"), _str(p, "$pathname"), s["entry_pathname"],
                s["end_pathname"], _str(p, "$browser"), _str(p, "$os"), _int(p, "$viewport_width"),
                _int(p, "$viewport_height"), *session_dims, _str(p, "$geoip_country_code"),
                _str(p, "$geoip_city_name"), _str(p, "$geoip_subdivision_1_code"), s["s_region_name"], *clicks,
            )  # fmt: skip
            agg = stats[key]
            agg["sessions"].add(e["session_id"])
            agg["pageviews"] += 1
            last_in_group[key] = e  # counted is in (timestamp, uuid) order
        for key, e in last_in_group.items():
            stats[key]["persons"].add(overrides.get((team, e["distinct_id"]), e["person_id"]))
        f = counted[0]["props"]
        key = (
            bucket, _str(f, "$host"), _str(f, "$device_type"), s["entry_pathname"], s["end_pathname"],
            _str(f, "$browser"), _str(f, "$os"), _int(f, "$viewport_width"), _int(f, "$viewport_height"),
            *session_dims, s["s_country_code"], s["s_city_name"], s["s_region_code"], s["s_region_name"], *clicks,
        )  # fmt: skip
        agg = bounces[key]
        agg["persons"].add(overrides.get((team, counted[-1]["distinct_id"]), counted[-1]["person_id"]))
        agg["sessions"].add(counted[0]["session_id"])
        agg["pageviews"] += len(counted)
        agg["bounces"] += int(bool(session.is_bounce))
        agg["duration"] += session.duration
        agg["session_count"] += 1
    return {"stats": _rows(stats, STATS_DIMS), "bounces": _rows(bounces, BOUNCES_DIMS)}


STATS_DIMS = (
    "bucket", "host", "device_type", "pathname", "entry_pathname", "end_pathname", "browser", "os",
    "viewport_width", "viewport_height", "referring_domain", "utm_source", "utm_medium", "utm_campaign",
    "utm_term", "utm_content", "country_code", "city_name", "region_code", "region_name", "has_gclid",
    "has_gad_source_paid_search", "has_fbclid",
)  # fmt: skip
BOUNCES_DIMS = tuple(d for d in STATS_DIMS if d != "pathname")


def _rows(groups: dict, dims: tuple[str, ...]) -> list[dict]:
    out = []
    for key, agg in groups.items():
        row = dict(zip(dims, key, strict=True))
        row.update(mat_metadata_backend=None, mat_metadata_loggedIn=None)
        row.update({k: (len(v) if isinstance(v, set) else v) for k, v in agg.items()})
        out.append(row)
    return sorted(out, key=_order)


def _order(row: dict) -> tuple:
    return tuple(str(row[k]) for k in sorted(row))


def comparable(rows: list[dict]) -> list[dict]:
    """ClickHouse rows in the oracle's order and types (bools as bools)."""
    out = [{k: (bool(v) if k.startswith("has_") else v) for k, v in r.items()} for r in rows]
    return sorted(out, key=_order)
