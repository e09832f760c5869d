"""The operators' task dashboard (``/tasks``) in headless Chromium, and the replay flow by API.

A credit check that fails for good (the bureau simulator failing every call) is dead-lettered
and parked; the operator finds it, replays it once the bureau is back, and the audit records it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.conftest import STAFF_TOKEN
from tests.e2e.conftest import Client
from tests.e2e.test_pages import SCREENSHOTS, browser, page  # noqa: F401 - the browser fixtures
from tests.support.payloads import application
from tests.support.polling import TERMINAL
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow, pytest.mark.browser]
STAFF = {"Authorization": f"Bearer {STAFF_TOKEN}", "X-Operator": "olga"}


def dead_lettered_check(client: Client, stack: Stack) -> tuple[dict[str, Any], dict[str, Any]]:
    """Make one credit check fail for good; returns the application and its parked dead letter."""
    requests.put(f"{stack.bureau}/v1/_faults", json={"failure_rate": 1.0}, timeout=5)
    try:
        accepted = client.submit(application())
        assert client.wait_for(accepted, TERMINAL, timeout=90)["status"] == "FAILED"
    finally:
        requests.put(f"{stack.bureau}/v1/_faults", json={"failure_rate": 0.0}, timeout=5)
    for _ in range(50):
        letters = requests.get(f"{stack.gateway}/credit/dead-letters", params={"application_id": accepted["id"]},
                               headers=STAFF, timeout=5).json()
        if letters:
            return accepted, letters[0]
        time.sleep(0.2)
    raise AssertionError("no dead letter parked")


def sign_in(tab: Page, stack: Stack, token: str = STAFF_TOKEN) -> None:
    tab.goto(f"{stack.gateway}/tasks")
    tab.fill("#token", token)
    tab.fill("#operator", "olga")
    tab.click("button[type=submit]")


def test_replay_by_api_is_audited_and_the_task_succeeds(client: Client, stack: Stack) -> None:
    accepted, letter = dead_lettered_check(client, stack)
    detail = requests.get(f"{stack.gateway}/credit/dead-letters/{letter['id']}", headers=STAFF, timeout=5).json()
    assert "BureauUnavailable" in detail["traceback"]
    replayed = requests.post(f"{stack.gateway}/credit/dead-letters/{letter['id']}/replay", headers=STAFF, timeout=5)
    assert replayed.json()["status"] == "REPLAYED"
    for _ in range(100):
        tasks = requests.get(f"{stack.gateway}/credit/tasks", params={"application_id": accepted["id"]},
                             headers=STAFF, timeout=5).json()
        if any(t["state"] == "succeeded" and t["actor"] == "credit.check_credit" for t in tasks):
            break
        time.sleep(0.2)
    assert any(t["state"] == "succeeded" and t["actor"] == "credit.check_credit" for t in tasks)
    audit = requests.get(f"{stack.gateway}/credit/operator-actions", headers=STAFF, timeout=5).json()
    assert audit[0]["action"] == "replay" and audit[0]["operator"] == "olga"


def test_task_dashboard_overview_dead_letters_and_replay(page: Page, stack: Stack,  # noqa: F811
                                                         client: Client) -> None:
    accepted, letter = dead_lettered_check(client, stack)
    sign_in(page, stack)
    expect(page.locator("[data-testid='queue-credit'] td").nth(2)).not_to_have_text("0", timeout=15_000)
    expect(page.locator("[data-testid='service-loan']")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "tasks.png"))
    page.click("[data-testid='tab-dead']")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click(f"[data-testid='replay-{letter['id']}']")
    expect(page.locator("[data-testid='audit-credit']")).to_contain_text("replay", timeout=10_000)
    expect(page.locator("[data-testid='audit-credit']")).to_contain_text("olga")
    page.click("[data-testid='tab-application']")
    page.fill("input[placeholder='application id']", accepted["id"])
    page.click("text=Show every task")
    tasks = page.locator("[data-testid='application-tasks']")
    for actor in ("loan.credit_check_failed", "credit.check_credit", "property.value_property",
                  "notify.application_status_changed"):
        expect(tasks).to_contain_text(actor, timeout=20_000)


def test_task_dashboard_refuses_a_wrong_token(page: Page, stack: Stack) -> None:  # noqa: F811
    sign_in(page, stack, token="not-the-staff-token")
    expect(page.locator("[data-testid='login-error']")).to_contain_text("not a valid staff token")
