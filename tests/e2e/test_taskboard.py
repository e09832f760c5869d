"""The operators' task dashboard (``/tasks``) in headless Chromium, and the replay flow by API.

A credit check that fails for good (the bureau simulator failing every call) is dead-lettered
and parked; the operator finds it, replays it once the bureau is back, and the audit records it
under the name of the account that signed in (the token says who: there is no operator header).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, STAFF_TOKEN
from tests.e2e.conftest import Client
from tests.e2e.test_pages import (  # noqa: F401 - browser, page: the browser fixtures
    EXPIRED,
    OFFICER,
    SCREENSHOTS,
    browser,
    page,
    sign_in_form,
    staff_account,
    stored_token,
)
from tests.support.payloads import application
from tests.support.polling import TERMINAL
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow, pytest.mark.browser]
STAFF = {"Authorization": f"Bearer {STAFF_TOKEN}"}


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


def sign_in(tab: Page, stack: Stack, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD) -> None:
    tab.goto(f"{stack.gateway}/tasks")
    sign_in_form(tab, username, password)


def signed_in_token(stack: Stack, username: str, password: str) -> str:
    """A staff token from ``POST /auth/token``, as the pages get one."""
    answer = requests.post(f"{stack.gateway}/auth/token", json={"username": username, "password": password},
                           timeout=10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer" and body["username"] == username
    return str(body["access_token"])


def test_replay_by_api_is_audited_and_the_task_succeeds(client: Client, stack: Stack) -> None:
    accepted, letter = dead_lettered_check(client, stack)
    detail = requests.get(f"{stack.gateway}/credit/dead-letters/{letter['id']}", headers=STAFF, timeout=5).json()
    assert "BureauUnavailable" in detail["traceback"]
    admin = {"Authorization": f"Bearer {signed_in_token(stack, ADMIN_USERNAME, ADMIN_PASSWORD)}"}
    replayed = requests.post(f"{stack.gateway}/credit/dead-letters/{letter['id']}/replay", headers=admin, timeout=5)
    assert replayed.json()["status"] == "REPLAYED"
    for _ in range(100):
        tasks = requests.get(f"{stack.gateway}/credit/tasks", params={"application_id": accepted["id"]},
                             headers=STAFF, timeout=5).json()
        if any(t["state"] == "succeeded" and t["actor"] == "credit.check_credit" for t in tasks):
            break
        time.sleep(0.2)
    assert any(t["state"] == "succeeded" and t["actor"] == "credit.check_credit" for t in tasks)
    audit = requests.get(f"{stack.gateway}/credit/operator-actions", headers=STAFF, timeout=5).json()
    entries = [(a["action"], a["operator"]) for a in audit if a["target"] == letter["id"]]
    assert entries == [("replay", ADMIN_USERNAME)]  # the name the token carries


def test_task_dashboard_overview_dead_letters_and_replay(page: Page, stack: Stack,  # noqa: F811
                                                         client: Client) -> None:
    accepted, letter = dead_lettered_check(client, stack)
    sign_in(page, stack)
    expect(page.get_by_test_id("signed-in-as")).to_have_text(f"{ADMIN_USERNAME} (admin)")
    expect(page.locator("[data-testid='queue-credit'] td").nth(2)).not_to_have_text("0", timeout=15_000)
    expect(page.locator("[data-testid='service-loan']")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "tasks.png"))
    page.click("[data-testid='tab-dead']")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click(f"[data-testid='replay-{letter['id']}']")
    audited = page.get_by_test_id("audit-credit").locator("tbody tr", has_text=letter["id"])
    expect(audited).to_contain_text("replay", timeout=10_000)
    expect(audited.locator("td").nth(1)).to_have_text(ADMIN_USERNAME)  # who signed in, from the token
    page.click("[data-testid='tab-application']")
    page.fill("input[placeholder='application id']", accepted["id"])
    page.click("text=Show every task")
    tasks = page.locator("[data-testid='application-tasks']")
    for actor in ("loan.credit_check_failed", "credit.check_credit", "property.value_property",
                  "notify.application_status_changed"):
        expect(tasks).to_contain_text(actor, timeout=20_000)


def test_task_dashboard_refuses_an_officer(page: Page, stack: Stack) -> None:  # noqa: F811
    staff_account(stack, *OFFICER, role="officer")
    sign_in(page, stack, *OFFICER)
    expect(page.get_by_test_id("login-error")).to_have_text("This account may not use this page.")
    expect(page.get_by_test_id("tab-overview")).to_be_hidden()
    expect(page.get_by_test_id("signed-in-as")).to_be_hidden()
    assert stored_token(page) is None


def test_task_dashboard_signs_in_again_where_it_was(page: Page, stack: Stack) -> None:  # noqa: F811
    sign_in(page, stack)
    page.get_by_test_id("tab-dead").click()
    expect(page.get_by_test_id("audit-credit")).to_be_visible()

    # The server refuses the token (a 401, as for an expired one): the form, with the username.
    page.evaluate("sessionStorage.setItem('loanflow.staffToken', 'garbage')")
    page.reload()
    expect(page.get_by_test_id("login-error")).to_have_text(EXPIRED)
    expect(page.get_by_test_id("audit-credit")).to_be_hidden()
    expect(page.get_by_test_id("username-input")).to_have_value(ADMIN_USERNAME)
    assert stored_token(page) is None
    page.get_by_test_id("password-input").fill(ADMIN_PASSWORD)
    page.get_by_test_id("password-input").press("Enter")
    expect(page.get_by_test_id("audit-credit")).to_be_visible()  # back on the dead letters
    expect(page.get_by_test_id("tab-dead")).to_have_class("active")

    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("login-form")).to_be_visible()
    expect(page.get_by_test_id("username-input")).to_have_value("")
    assert page.evaluate("sessionStorage.length") == 0


def test_task_dashboard_batch_counts_then_replays_by_query(page: Page, stack: Stack,  # noqa: F811
                                                           client: Client) -> None:
    accepted, letter = dead_lettered_check(client, stack)
    sign_in(page, stack)
    page.get_by_test_id("tab-dead").click()
    result = page.get_by_test_id("batch-result")
    page.get_by_test_id("batch-service").select_option("credit")
    page.get_by_test_id("batch-application_id").fill("not-an-id")
    page.get_by_test_id("batch-count").click()
    expect(result).to_contain_text("422")  # the refusal, field by field
    expect(result).to_contain_text("application_id")
    page.get_by_test_id("batch-application_id").fill(accepted["id"])
    page.get_by_test_id("batch-actor").fill("credit.check_credit")
    page.get_by_test_id("batch-count").click()
    expect(result).to_have_text("credit: 1 parked letter(s) match")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("batch-replay").click()
    expect(result).to_have_text("credit: replay done for 1 of 1")
    audit = page.get_by_test_id("audit-credit")
    expect(audit.locator("tbody tr", has_text=letter["id"])).to_contain_text("replay")
    expect(audit.locator("tbody tr", has_text="batch_replay").first).to_contain_text(ADMIN_USERNAME)
    replayed = requests.get(f"{stack.gateway}/credit/dead-letters/{letter['id']}", headers=STAFF, timeout=5).json()
    assert replayed["status"] == "REPLAYED"
