"""A realistic mix for Dealflow: reps on the board, lists and deal pages, moving and editing deals, and
scripts reading and writing through the API. Run by `python -m benchmarks load` (headless), which signs
the users in first and passes their sessions and API tokens in the environment."""

from __future__ import annotations

import itertools
import json
import os
import random

from locust import HttpUser, between, task

TOKENS = json.loads(os.environ.get("DEALFLOW_LOAD_TOKENS", "{}"))  # username -> bearer secret
# One signed-in session per simulated user, made by the harness before the timed run (benchmarks/load).
SESSIONS = json.loads(os.environ.get("DEALFLOW_LOAD_SESSIONS", "[]"))
WAIT = [float(part) for part in os.environ.get("DEALFLOW_LOAD_WAIT", "0.5,2.5").split(",")]
_next_session = itertools.count()


class Rep(HttpUser):
    wait_time = between(WAIT[0], WAIT[1])

    def on_start(self) -> None:
        session = dict(SESSIONS[next(_next_session) % len(SESSIONS)])
        self.username = session.pop("username")
        for name, value in session.items():
            self.client.cookies.set(name, value)
        self.api = {"Authorization": f"Bearer {TOKENS[self.username]}"}
        deals = self.client.get(
            "/api/v1/deals?mine=true&status=open&limit=100", headers=self.api, name="api list mine"
        )
        self.deal_ids = [deal["id"] for deal in deals.json().get("items", [])] if deals.ok else []
        stages = self.client.get("/api/v1/stages", headers=self.api, name="api stages")
        self.stages: dict[int, list[int]] = {}
        for stage in stages.json() if stages.ok else []:
            if stage.get("kind") == "open" and stage.get("is_active", True):
                self.stages.setdefault(stage["pipeline_id"], []).append(stage["id"])

    def _deal_id(self) -> int | None:
        return random.choice(self.deal_ids) if self.deal_ids else None

    @task(5)
    def board(self) -> None:
        self.client.get("/?mine=1", name="board")

    @task(3)
    def deal_list(self) -> None:
        self.client.get("/deals/?status=open", name="deals list")

    @task(4)
    def deal_page(self) -> None:
        if (deal_id := self._deal_id()) is not None:
            self.client.get(f"/deals/{deal_id}/", name="deal page")

    @task(3)
    def api_list(self) -> None:
        self.client.get("/api/v1/deals?limit=20", headers=self.api, name="api deals list")

    @task(2)
    def api_read(self) -> None:
        if (deal_id := self._deal_id()) is not None:
            self.client.get(f"/api/v1/deals/{deal_id}", headers=self.api, name="api deal read")

    @task(1)
    def move(self) -> None:
        deal_id = self._deal_id()
        if deal_id is None:
            return
        deal = self.client.get(f"/api/v1/deals/{deal_id}", headers=self.api, name="api deal read")
        if not deal.ok or deal.json()["status"] != "open":
            return
        current = deal.json()
        choices = [
            stage for stage in self.stages.get(current["pipeline_id"], []) if stage != current["stage_id"]
        ]
        if not choices:
            return
        with self.client.post(
            f"/api/v1/deals/{deal_id}/move",
            json={"stage_id": random.choice(choices), "version": current["version"]},
            headers=self.api,
            name="api move",
            catch_response=True,
        ) as response:
            if response.status_code == 409:  # another user moved it first: the correct answer, not an error
                response.success()

    @task(1)
    def edit(self) -> None:
        deal_id = self._deal_id()
        if deal_id is None:
            return
        deal = self.client.get(f"/api/v1/deals/{deal_id}", headers=self.api, name="api deal read")
        if not deal.ok:
            return
        with self.client.patch(
            f"/api/v1/deals/{deal_id}",
            json={"version": deal.json()["version"], "next_step": f"call {random.randint(1, 99)}"},
            headers=self.api,
            name="api edit",
            catch_response=True,
        ) as response:
            if response.status_code == 409:
                response.success()
