"""50 simulated MUSHRA participants rating at once against the running app on 127.0.0.1.

The app runs as its own process (`codecbench app`), as in a deployment; each simulated
participant has its own HTTP connection (asyncio, so the load generator stays light) and does
what the player does: start a session from the crowd link, pass the instructions and level
check, and for every trial fetch all stimuli, report a start and a stop play event per stimulus
(listening ``--listen-s`` to each, default 0.5 s: ten times faster than people listen), and
submit its ratings; every participant also re-sends one submission, as a browser retrying after
a lost connection would. Afterwards the database is checked: every accepted rating stored
exactly once. ``--listen-s 0`` sends everything back to back, which saturates the server and
measures its capacity rather than its latency.

Prints ratings stored per second, submit latency (p50, p95, max; target p95 < 200 ms on SQLite
with participants pacing like people: ``--listen-s 5``), the write transactions the run made, and
the count of lost and duplicated ratings (target: 0).

Where the time goes (measured with a wall-clock profile of the app's threads): a submission's own
work is about 10 ms (find the session, check ratings and timing, insert, build the next trial's
view); the rest of its latency is waiting for SQLite's one write lock, which every participant
request takes (a play event, a stimulus's first serving, a submission). The app's writers take
turns in arrival order (``Database.write_turns``) instead of retrying in SQLite's busy handler,
whose sleeps of up to 100 ms made single submissions wait up to 1.3 s under the 0.5 s pacing.

    python benchmarks/mushra_load.py [--participants 50] [--listen-s 0.5] [--db URL]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import soundfile
import yaml
from sqlalchemy import func, select

from codecbench.listening_test.design import prepare_test, store_test
from codecbench.listening_test.spec_yaml import load_test_spec
from codecbench.storage import open_database
from codecbench.storage.listening_tables import (
    ParticipantRow,
    PlayEventRow,
    RatingRow,
    SessionRow,
    TrialRow,
    TrialStimulusRow,
)
from codecbench.synthetic import speech_like

NUM_ITEMS = 8
ITEMS_PER_PARTICIPANT = 4
ITEM_S = 4.0
RATE_HZ = 16_000


def write_test(folder: Path, participants: int) -> Path:
    items = []
    for index in range(NUM_ITEMS):
        path = folder / f"item{index}.wav"
        soundfile.write(path, speech_like(ITEM_S, RATE_HZ, seed=index), RATE_HZ)
        items.append(path.name)
    spec = {
        "name": "load test",
        "items": items,
        "conditions": [{"codec": "opus", "bitrate_kbps": 6}, {"codec": "opus", "bitrate_kbps": 12},
                       {"codec": "codec2", "bitrate_kbps": 3.2}],
        "items_per_participant": ITEMS_PER_PARTICIPANT,
        # every simulated participant comes from 127.0.0.1 at once: lift the per-address and per-minute caps
        "crowd": {"completion_code": "LOAD", "sessions_per_address_per_hour": participants,
                  "new_sessions_per_minute": participants},
    }
    path = folder / "test.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Participant:
    """One simulated participant: the requests the player makes, as fast as the server answers."""

    def __init__(self, number: int, link: str, listen_s: float) -> None:
        self.number, self.link, self.listen_s = number, link, listen_s
        self.submit_latencies_s: list[float] = []
        self.accepted: dict[str, float] = {}  # trial-stimulus token -> rating the server accepted
        self.duplicates_acknowledged = 0
        self.error: str | None = None
        self.rng = random.Random(number)

    async def run(self, client: httpx.AsyncClient, start: asyncio.Event) -> None:
        """``client``: this participant's own (its cookies are its browser's key)."""
        try:
            await start.wait()
            view = await self._ok(client.post("/sessions", json={"test": self.link, "params": {"PROLIFIC_PID": f"load-{self.number}"}}))
            token = view["session_token"]
            view = await self._ok(client.post(f"/sessions/{token}/advance", json={"from_stage": "instructions"}))
            view = await self._ok(client.post(f"/sessions/{token}/advance", json={"from_stage": "level_check"}))
            retried = False
            while view["stage"] == "trials":
                trial = view["trial"]
                for stimulus in [trial["reference_token"], *(s["token"] for s in trial["stimuli"])]:
                    await self._ok(client.get(f"/stimuli/{stimulus}"), json=False)
                for stimulus in trial["stimuli"]:
                    for kind in ("start", "stop"):
                        await self._ok(client.post(f"/sessions/{token}/plays", json={
                            "stimulus": stimulus["token"], "kind": kind, "position_s": 1.0,
                            "listened_s": self.listen_s}), json=False)
                        if kind == "start":  # at least listen_s: the server refuses ratings faster than hearing
                            await asyncio.sleep(self.listen_s * self.rng.uniform(1.0, 1.5))
                ratings = {s["token"]: float(self.rng.randint(0, 100)) for s in trial["stimuli"]}
                path = f"/sessions/{token}/trials/{trial['token']}"
                started = time.perf_counter()
                result = await self._ok(client.post(path, json={"ratings": ratings}))
                self.submit_latencies_s.append(time.perf_counter() - started)
                self.accepted.update(ratings)
                if not retried:  # a browser retrying after a lost answer
                    again = await self._ok(client.post(path, json={"ratings": ratings}))
                    self.duplicates_acknowledged += again["duplicate"]
                    retried = True
                view = result["view"]
        except Exception as error:  # reported in the summary
            self.error = f"{type(error).__name__}: {error}"

    @staticmethod
    async def _ok(request, json: bool = True):
        response = await request
        if response.status_code >= 300:
            raise RuntimeError(f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text[:200]}")
        return response.json() if json else None


async def run_participants(api: str, link: str, count: int, listen_s: float) -> tuple[list[Participant], float]:
    """All participants at once, each with its own connection; returns them and the wall time."""
    participants = [Participant(n, link, listen_s) for n in range(count)]
    start = asyncio.Event()
    clients = [httpx.AsyncClient(base_url=api, timeout=60) for _ in participants]  # a browser each
    try:
        tasks = [asyncio.create_task(p.run(client, start)) for p, client in zip(participants, clients)]
        started = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
        return participants, time.perf_counter() - started
    finally:
        for client in clients:
            await client.aclose()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=50)
    parser.add_argument("--listen-s", type=float, default=0.5, help="seconds each stimulus is listened to (0: no pause)")
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mushra-load-") as folder_name:
        folder = Path(folder_name)
        database_url = args.db or f"sqlite:///{folder / 'load.sqlite3'}"
        database = open_database(database_url)
        prepared = prepare_test(load_test_spec(write_test(folder, args.participants)))
        with database.session() as session:
            test = store_test(session, prepared)
        port = free_port()
        codecbench = str(Path(sys.executable).with_name("codecbench"))
        server = subprocess.Popen([codecbench, "app", "--port", str(port), "--db", database_url],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            api = f"http://127.0.0.1:{port}/mushra-api"
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/mushra/", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the app did not start: {server.stderr.read() if server.stderr else ''}")
                time.sleep(0.2)

            participants, elapsed_s = asyncio.run(run_participants(api, test.link_token, args.participants, args.listen_s))
        finally:
            server.terminate()
            server.wait(timeout=30)

        with database.session() as session:
            stored = dict(session.execute(
                select(TrialStimulusRow.token, RatingRow.value)
                .join(RatingRow, RatingRow.trial_stimulus_id == TrialStimulusRow.id)
                .join(TrialRow, TrialRow.id == TrialStimulusRow.trial_id)
                .join(SessionRow, SessionRow.id == TrialRow.session_id)
                .join(ParticipantRow, ParticipantRow.id == SessionRow.participant_id)
                .where(ParticipantRow.test_id == test.id)
            ).all())
            rating_rows = session.scalar(select(func.count(RatingRow.id)))
            events = dict(session.execute(select(PlayEventRow.kind, func.count(PlayEventRow.id)).group_by(PlayEventRow.kind)).all())
            completed = session.scalar(select(func.count(SessionRow.id)).where(SessionRow.stage == "complete"))
        database.close()

    errors = [p.error for p in participants if p.error]
    accepted = {token: value for p in participants for token, value in p.accepted.items()}
    lost = sum(1 for token, value in accepted.items() if stored.get(token) != value)
    duplicated = rating_rows - len(stored)
    latencies = [s for p in participants for s in p.submit_latencies_s]
    per_trial = len(prepared.spec.planned_conditions())
    print(f"participants: {args.participants} concurrent ({completed} completed), "
          f"{ITEMS_PER_PARTICIPANT} test trials + 1 training each, {per_trial} rated stimuli per trial, "
          f"listening {args.listen_s:g} s to each")
    print(f"database: {'SQLite' if database_url.startswith('sqlite') else database_url.split(':')[0]}; wall time {elapsed_s:.1f} s "
          "(each participant also fetches every stimulus and logs 2 play events per stimulus)")
    print(f"ratings stored: {len(stored)} ({len(stored) / elapsed_s:.0f} ratings/s, "
          f"{len(latencies) / elapsed_s:.1f} trials/s)")
    print(f"submit latency: p50 {1000 * statistics.median(latencies):.0f} ms, p95 {1000 * percentile(latencies, 95):.0f} ms, "
          f"max {1000 * max(latencies):.0f} ms (target p95 < 200 ms)")
    plays = sum(count for kind, count in events.items() if kind != "served")
    print(f"write transactions: {len(latencies) + sum(p.duplicates_acknowledged for p in participants)} submissions, "
          f"{plays} play events, {events.get('served', 0)} stimuli served (each request one write; on SQLite they "
          f"take turns for the one write lock: the submit latency beyond its own ~10 ms is waiting its turn)")
    print(f"lost ratings: {lost}; duplicated ratings: {duplicated}; retried submissions acknowledged as duplicates: "
          f"{sum(p.duplicates_acknowledged for p in participants)} of {args.participants}")
    if errors:
        print(f"errors ({len(errors)}):", *errors[:5], sep="\n  ")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
