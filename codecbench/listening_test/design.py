"""Creating a MUSHRA test: make every stimulus, then store the whole design in SQL at once.

The audio work (:func:`prepare_test`) happens before the transaction; :func:`store_test` only
writes rows, so a failure in any stimulus leaves the database untouched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from codecbench.listening_test.sources import load_items
from codecbench.listening_test.spec import CrowdSettings, TestSettings, TestSpec
from codecbench.listening_test.stimuli import STIMULUS_MEDIA_TYPE, PreparedItem, anchor_identity_warnings, prepare_item
from codecbench.storage.listening_tables import (
    ConditionRow,
    ItemRow,
    ListeningTestRow,
    ParticipantRow,
    SessionRow,
    StimulusAudioRow,
    StimulusRow,
)

PARTICIPANT_PAGE_PATH = "/mushra/"
ADMIN_PAGE_PATH = "/admin/"
TEST_STATUSES = ("open", "closed")
# What Prolific substitutes into a study URL; other platforms have their own placeholders.
PROLIFIC_PLACEHOLDERS = {"PROLIFIC_PID": "{{%PROLIFIC_PID%}}", "STUDY_ID": "{{%STUDY_ID%}}", "SESSION_ID": "{{%SESSION_ID%}}"}


class TestNotFoundError(LookupError):
    """No test has this id (or link)."""

    __test__ = False  # not a pytest test class


@dataclass(frozen=True)
class PreparedTest:
    """A test whose stimuli are made, ready to be stored."""

    spec: TestSpec
    items: tuple[PreparedItem, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class ConditionInfo:
    name: str
    kind: str
    rated: bool
    definition: dict


@dataclass(frozen=True)
class TestInfo:
    """A stored test, as the CLI and the Admin page show it."""

    __test__ = False  # not a pytest test class

    id: int
    name: str
    status: str
    link_token: str
    created_at: datetime
    settings: TestSettings
    items: tuple[str, ...]
    conditions: tuple[ConditionInfo, ...]

    @property
    def rated_conditions(self) -> tuple[ConditionInfo, ...]:
        return tuple(c for c in self.conditions if c.rated)

    @classmethod
    def from_row(cls, row: ListeningTestRow) -> TestInfo:
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        return cls(
            id=row.id,
            name=row.name,
            status=row.status,
            link_token=row.link_token,
            created_at=created,
            settings=TestSettings.from_json(row.settings_json),
            items=tuple(item.name for item in row.items),
            conditions=tuple(
                ConditionInfo(c.name, c.kind, c.rated, json.loads(c.definition_json)) for c in row.conditions
            ),
        )


def prepare_test(spec: TestSpec, session: Session | None = None) -> PreparedTest:
    """Load the items and make every stimulus (the slow part; no database writes).

    Raises:
        SpecError: an item cannot be loaded.
        StimulusError: a stimulus cannot be made.
    """
    items = load_items(spec, session)
    prepared = tuple(prepare_item(item, spec) for item in items)
    warnings = [*spec.warnings, *(w for item in prepared for w in item.warnings), *anchor_identity_warnings(list(prepared))]
    return PreparedTest(spec=spec, items=prepared, warnings=tuple(warnings))


def store_test(session: Session, prepared: PreparedTest) -> TestInfo:
    """Write a prepared test (design, stimuli and their audio) and return it."""
    spec = prepared.spec
    settings = spec.settings([item.item.name for item in prepared.items])
    test = ListeningTestRow(name=spec.name, spec_yaml=spec.source_text, settings_json=settings.to_json())
    session.add(test)
    conditions = {}
    for position, planned in enumerate(spec.planned_conditions()):
        conditions[planned.name] = ConditionRow(
            position=position, name=planned.name, kind=planned.kind, rated=planned.rated,
            definition_json=json.dumps(planned.definition()),
        )
        test.conditions.append(conditions[planned.name])
    for position, prepared_item in enumerate(prepared.items):
        item = ItemRow(
            position=position,
            name=prepared_item.item.name,
            source=prepared_item.item.source,
            source_sha256=prepared_item.item.source_sha256,
            sample_rate_hz=prepared_item.sample_rate_hz,
            num_samples=prepared_item.num_samples,
        )
        test.items.append(item)
        for stimulus in prepared_item.stimuli:
            row = StimulusRow(
                condition=conditions[stimulus.condition.name],
                sha256=stimulus.sha256,
                sample_rate_hz=stimulus.sample_rate_hz,
                num_samples=stimulus.num_samples,
                checks_json=json.dumps(stimulus.checks),
            )
            item.stimuli.append(row)
            session.flush()
            session.add(StimulusAudioRow(stimulus_id=row.id, media_type=STIMULUS_MEDIA_TYPE, data=stimulus.audio_bytes))
    session.flush()
    return TestInfo.from_row(test)


def get_test(session: Session, test_id: int) -> TestInfo:
    """The test with this id.

    Raises:
        TestNotFoundError: there is none; the message lists the ids that exist.
    """
    return TestInfo.from_row(find_test(session, test_id))


def list_tests(session: Session) -> list[TestInfo]:
    rows = session.scalars(select(ListeningTestRow).order_by(ListeningTestRow.id)).all()
    return [TestInfo.from_row(row) for row in rows]


def set_test_status(session: Session, test_id: int, status: str) -> TestInfo:
    """Open or close a test to new participants (those already in it can finish)."""
    if status not in TEST_STATUSES:
        raise ValueError(f"test status {status!r}; choose one of {', '.join(TEST_STATUSES)}")
    row = find_test(session, test_id)
    row.status = status
    session.flush()
    return TestInfo.from_row(row)


def stimulus_checks(session: Session, test_id: int) -> list[dict]:
    """One record per stimulus: item, condition, checksum and the checks made when it was created."""
    rows = session.execute(
        select(ItemRow.name, ConditionRow.name, StimulusRow.sha256, StimulusRow.checks_json)
        .join(StimulusRow, StimulusRow.item_id == ItemRow.id)
        .join(ConditionRow, ConditionRow.id == StimulusRow.condition_id)
        .where(ItemRow.test_id == test_id)
        .order_by(ItemRow.position, ConditionRow.position)
    ).all()
    return [{"item": item, "condition": condition, "sha256": sha, **json.loads(checks)} for item, condition, sha, checks in rows]


def participant_count(session: Session, test_id: int) -> int:
    return session.scalar(select(func.count(SessionRow.id)).join(ParticipantRow).where(ParticipantRow.test_id == test_id))


def participant_link(base_url: str, test: TestInfo) -> str:
    """The link participants open. For crowd tests, the platform appends its ID parameters."""
    return f"{base_url.rstrip('/')}{PARTICIPANT_PAGE_PATH}?{urlencode({'test': test.link_token})}"


def crowd_link(base_url: str, test: TestInfo) -> str | None:
    """The link with Prolific's placeholders, for tests whose crowd ID parameter is Prolific's."""
    crowd: CrowdSettings | None = test.settings.crowd
    if crowd is None:
        return None
    params = [(crowd.id_param, PROLIFIC_PLACEHOLDERS.get(crowd.id_param, f"<{crowd.id_param}>"))]
    if crowd.id_param == "PROLIFIC_PID":
        params += [("STUDY_ID", PROLIFIC_PLACEHOLDERS["STUDY_ID"]), ("SESSION_ID", PROLIFIC_PLACEHOLDERS["SESSION_ID"])]
    return participant_link(base_url, test) + "".join(f"&{key}={value}" for key, value in params)


def admin_link(base_url: str, test: TestInfo) -> str:
    return f"{base_url.rstrip('/')}{ADMIN_PAGE_PATH}?{urlencode({'test': test.id})}"


def find_test(session: Session, test_id: int) -> ListeningTestRow:
    """The row of test ``test_id``; raises :class:`TestNotFoundError` listing (some of) the ids that exist."""
    # An id the id column cannot hold names no test; the query would fail in the driver (a
    # 64-bit overflow in SQLite, "integer out of range" beyond 2**31 - 1 in PostgreSQL).
    row = session.get(ListeningTestRow, test_id) if 0 < test_id <= _largest_id(session) else None
    if row is None:
        raise TestNotFoundError(f"no MUSHRA test with id {test_id}; {_test_ids(session)}")
    return row


def _largest_id(session: Session) -> int:
    """The largest value of an ``Integer`` id column: 64-bit in SQLite, 32-bit elsewhere (PostgreSQL)."""
    return 2**63 - 1 if session.get_bind().dialect.name == "sqlite" else 2**31 - 1


def _test_ids(session: Session, shown: int = 10) -> str:
    """Which test ids exist, for a message: at most ``shown`` of them, with a pointer to the full list."""
    known = session.scalars(select(ListeningTestRow.id).order_by(ListeningTestRow.id.desc()).limit(shown + 1)).all()
    if not known:
        return "this database has none yet (create one with `codecbench mushra create test.yaml`)."
    listing = ", ".join(map(str, sorted(known[:shown])))
    if len(known) > shown:
        return f"the newest tests in this database are {listing}; `codecbench mushra list` shows them all."
    return f"tests in this database: {listing} (`codecbench mushra list` shows them)."

