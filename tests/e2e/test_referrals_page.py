"""The officers' referral queue and a referred applicant's page, in headless Chromium on the real stack.

A borderline application (a debt-to-income just under the limit) is referred to officers
(issue 15, "Officers decide the hard cases"). Officer A claims it and proposes an approval of a
lower amount from the dashboard's queue: the page says it waits for a second officer; A's own
confirmation is refused (four eyes); officer B, in another browser, confirms it: done. The
applicant's page, open all along and never reloaded, shows the referral with its due time, then
the approval on the officers' terms; the e-mail of the referral says when to expect the answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import Client
from tests.e2e.test_pages import (
    SAGA,
    VIEWPORT,
    WATCH_CSP,
    assert_not_reloaded,
    browser,  # noqa: F401 - the fixture, shared with the other page tests
    mark_page,
    sign_in_form,
    staff_account,
    track,
)
from tests.support.payloads import application
from tests.support.polling import TERMINAL, eventually
from tests.support.smtp import received
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow, pytest.mark.browser]

OFFICER_A = ("referrals-officer-a", "a-long-password-for-a")
OFFICER_B = ("referrals-officer-b", "a-long-password-for-b")
#: About 34 % of debt-to-income with the baseline loan: inside the referral band, under the 35 % limit.
REFERRED_INCOME = {"monthly_income": "3573.00"}
#: What officer A proposes: the requested 200 000, lowered.
LOWER_AMOUNT = "180000"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def open_tab(browser: Browser) -> Iterator[Callable[..., Page]]:  # noqa: F811 - the imported fixture
    """Tabs in browser contexts of their own (each officer signs in apart: own sessionStorage).

    As test_pages' ``page``: an uncaught script error or a Content-Security-Policy violation in
    any of them fails the test, and so does any other console error but the browser's own line
    for an HTTP error status (a refused action answers 409 on purpose).
    """
    opened: list[Page] = []
    errors: list[str] = []

    def console(message: Any) -> None:
        if "Content Security Policy" in message.text or (
                message.type == "error" and not message.text.startswith("Failed to load resource")):
            errors.append(message.text)

    def make(viewport: dict[str, int] = VIEWPORT) -> Page:
        context = browser.new_context(viewport=viewport)
        context.add_init_script(WATCH_CSP)
        tab = context.new_page()
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.on("console", console)
        tab.set_default_timeout(10_000)
        opened.append(tab)
        return tab

    yield make
    for tab in opened:
        if not tab.is_closed() and tab.url.startswith("http"):
            errors.extend(tab.evaluate("window.__cspViolations || []"))
        tab.context.close()
    assert not errors, errors


def dashboard(tab: Page, stack: Stack, account: tuple[str, str]) -> None:
    tab.goto(f"{stack.gateway}/notify/dashboard")
    sign_in_form(tab, *account)
    expect(tab.get_by_test_id("signed-in-as")).to_have_text(f"{account[0]} (officer)")
    expect(tab.get_by_test_id("referrals")).to_be_visible()


def test_two_officers_decide_a_referral_and_the_applicant_follows_it_live(
        open_tab: Callable[..., Page], stack: Stack, client: Client) -> None:
    staff_account(stack, *OFFICER_A, role="officer")
    staff_account(stack, *OFFICER_B, role="officer")
    accepted = client.submit(application(applicant=REFERRED_INCOME))
    app_id = accepted["id"]

    # The applicant's page, open from the start: the referral arrives on its stream; who decides,
    # by when, and why.
    applicant = open_tab()
    track(applicant, stack, accepted)
    mark_page(applicant)
    body = client.wait_for(accepted, TERMINAL | {"REFERRED"})
    assert body["status"] == "REFERRED", f"not referred (is the decision side's referral band in?): {body}"
    current = applicant.get_by_test_id("current-status")
    expect(current).to_have_attribute("data-status", "REFERRED", timeout=SAGA)
    expect(applicant.get_by_test_id("headline")).to_have_text("An officer is reviewing your application")
    # "Mon 7 Dec 2026, 14:30 UTC": the reader's time zone, named (the test's Chromium runs in UTC or the host's).
    expect(applicant.get_by_test_id("review-due")).to_have_text(
        re.compile(r"^We expect to answer by \w{3},? \d{1,2} \w{3},? \d{4}(,| at) \d{2}:\d{2} \S+\.$"))
    expect(applicant.get_by_test_id("referral-reasons")).to_contain_text("of your income")
    expect(applicant.locator("#steps li.current")).to_have_text("Officer review")
    expect(applicant.get_by_test_id("event-4")).to_have_attribute("data-status", "REFERRED")
    expect(applicant.get_by_test_id("event-4")).to_contain_text("Answer expected by")

    # Officer A claims it, then proposes an approval of a lower amount: waiting for a second officer.
    officer_a = open_tab()
    dashboard(officer_a, stack, OFFICER_A)
    card_a = officer_a.get_by_test_id(f"referral-{app_id}")
    expect(card_a).to_be_visible()
    expect(officer_a.get_by_test_id(f"review-state-{app_id}")).to_have_text("Open: nobody holds it")
    expect(officer_a.get_by_test_id(f"timing-{app_id}")).to_have_text(re.compile("^(On time|At risk|Overdue)$"))
    expect(officer_a.get_by_test_id(f"referral-reasons-{app_id}")).to_contain_text("DEBT_TO_INCOME_NEAR_LIMIT")
    expect(officer_a.get_by_test_id(f"figures-{app_id}")).to_contain_text("Debt-to-income")
    officer_a.get_by_test_id(f"explanation-{app_id}").locator("summary").click()
    expect(officer_a.get_by_test_id(f"explanation-{app_id}")).to_contain_text("Debt to income")
    expect(officer_a.get_by_test_id(f"explanation-{app_id}")).to_contain_text("Close to a limit")
    expect(officer_a.get_by_test_id(f"explanation-{app_id}")).to_contain_text("240 months")  # the duration rule

    officer_a.get_by_test_id(f"claim-{app_id}").click()
    outcome_a = officer_a.get_by_test_id(f"outcome-{app_id}")
    expect(outcome_a).to_have_text("Done")
    expect(officer_a.get_by_test_id(f"review-state-{app_id}")).to_have_text("Claimed by you")

    officer_a.get_by_test_id(f"propose-{app_id}").click()
    expect(officer_a.get_by_test_id(f"proposal-decision-{app_id}")).to_be_focused()  # the form takes the keyboard
    officer_a.get_by_test_id(f"proposal-note-{app_id}").fill("Stable job; a lower amount keeps the ratio clear.")
    officer_a.get_by_test_id(f"proposal-amount-{app_id}").fill("250000")  # more than requested: refused
    officer_a.get_by_test_id(f"proposal-amount-{app_id}").press("Enter")
    expect(outcome_a).to_have_text(re.compile(r"^Refused: .*amount", re.I))
    expect(officer_a.get_by_test_id(f"proposal-amount-{app_id}")).to_have_class(re.compile("invalid"))
    officer_a.get_by_test_id(f"proposal-amount-{app_id}").fill(LOWER_AMOUNT)
    officer_a.get_by_test_id(f"proposal-amount-{app_id}").press("Enter")
    expect(outcome_a).to_have_text("Waiting for a second officer")
    expect(officer_a.get_by_test_id("referrals-outcome")).to_contain_text("Waiting for a second officer")
    expect(officer_a.get_by_test_id(f"review-state-{app_id}")).to_have_text(
        "Proposed by you: waiting for a second officer")
    expect(officer_a.get_by_test_id(f"proposal-{app_id}")).to_contain_text("€180,000")

    # Four eyes: A may not confirm A's own proposal.
    officer_a.get_by_test_id(f"confirm-{app_id}").click()
    expect(outcome_a).to_have_text(re.compile(r"^Refused: The officer who proposed a decision cannot confirm it"))
    expect(officer_a.get_by_test_id("referrals-outcome")).to_have_attribute("data-outcome", "refused")
    assert client.get(accepted)["status"] == "REFERRED"

    # Officer B, on a phone-sized screen, confirms with the keyboard: done, and it leaves the queue.
    officer_b = open_tab(PHONE)
    dashboard(officer_b, stack, OFFICER_B)
    expect(officer_b.get_by_test_id(f"review-state-{app_id}")).to_have_text(
        f"Proposed by {OFFICER_A[0]}: waiting for a second officer")
    card_b = officer_b.get_by_test_id(f"referral-{app_id}")
    assert card_b.evaluate("e => e.getBoundingClientRect().right <= window.innerWidth "
                           "&& e.scrollWidth <= e.clientWidth")
    assert officer_b.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    expect(officer_b.get_by_test_id("sign-out")).to_be_in_viewport()
    officer_b.get_by_test_id(f"confirm-{app_id}").focus()
    officer_b.keyboard.press("Enter")
    expect(officer_b.get_by_test_id("referrals-outcome")).to_have_text(
        re.compile(r"You confirmed the review of \w{8}: Done\."))
    expect(card_b).to_be_hidden(timeout=SAGA)
    expect(card_a).to_be_hidden(timeout=SAGA)  # A's queue follows the status change on its live channel
    expect(officer_a.get_by_test_id("referrals-outcome")).to_contain_text("has left the queue")

    # The applicant sees the officers' decision arrive: approved, for the lower amount.
    expect(current).to_have_attribute("data-status", "APPROVED", timeout=SAGA)
    expect(applicant.get_by_test_id("offer")).to_contain_text("€180,000")
    expect(applicant.get_by_test_id("referral")).to_be_hidden()
    statuses = applicant.get_by_test_id("timeline").locator("> li").evaluate_all(
        "items => items.map(i => i.dataset.status)")
    assert statuses == ["APPROVED", "DECIDING", "REFERRED", "DECIDING", "EVALUATING", "SUBMITTED"]
    assert_not_reloaded(applicant)
    expect(officer_a.get_by_test_id(f"status-{app_id}")).to_have_text("APPROVED", timeout=SAGA)

    # The referral's e-mail said who decides and by when.
    mails = eventually(lambda: [m for m in received(stack.maildir) if m["Message-ID"] == f"<{app_id}.4@loanflow>"],
                       bool, timeout=30)
    assert mails, "no e-mail for the referral"
    assert mails[0]["Subject"] == "An officer is reviewing your mortgage application"
    assert re.search(r"We expect to answer by \d{1,2} \w+ \d{4}, \d{2}:\d{2} UTC\.",
                     mails[0].get_body(("plain",)).get_content())
