"""The officers' dashboard and the applicant's page, driven in headless Chromium against the real stack.

Staff sign in with their own account (``POST /auth/token`` from the page's form: the test stack
creates ``ADMIN_USERNAME`` at start, and the tests add an officer through ``/auth/accounts``).
Debian's Chromium (``deploy/local/ensure_browser.sh``) is driven by Playwright; no browser is ever
downloaded. Every assertion about a change is made without reloading the page: what the page
shows came over its WebSocket (dashboard) or its EventSource (applicant). Each run also writes
``docs/screenshots/dashboard.png`` and ``docs/screenshots/applicant.png`` (1280×800).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, ROOT, STAFF_TOKEN
from tests.e2e.conftest import Client
from tests.support.payloads import application
from tests.support.polling import eventually
from tests.support.smtp import received
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
#: Milliseconds allowed for the saga to reach a status (it takes a second or two).
SAGA = 30_000
INCOME = {"declared_income_year_1": "70000", "declared_income_year_2": "66000"}
#: An officer's account, made by :func:`staff_account` (idempotent: any test may need it first).
OFFICER = ("officer-pages", "a-long-password-1")
EXPIRED = "Your session has expired: sign in again."


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed: run deploy/local/ensure_browser.sh")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


#: Records every Content-Security-Policy violation of a document, in the page itself (an init
#: script comes from the browser's DevTools side: the CSP it watches does not apply to it).
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI || "inline"} ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab (own sessionStorage); any uncaught script error fails the test, and so does
    anything the pages' Content-Security-Policy blocked (an inline script, style or handler, a
    foreign source): the console says ``Refused to …``, the document fires a violation event."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(WATCH_CSP)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda message: errors.append(message.text)
           if "Content Security Policy" in message.text else None)
    tab.set_default_timeout(10_000)
    yield tab
    if not tab.is_closed() and tab.url.startswith("http"):
        errors.extend(tab.evaluate("window.__cspViolations || []"))
    context.close()
    assert not errors, errors


def mark_page(tab: Page) -> None:
    """Tag the document, to prove later that it was never reloaded."""
    tab.evaluate("window.__notReloaded = true")


def assert_not_reloaded(tab: Page) -> None:
    assert tab.evaluate("window.__notReloaded === true")


def staff_account(stack: Stack, username: str, password: str, role: str) -> None:
    """Make a staff account with an admin's token (already there from an earlier test: fine)."""
    made = requests.post(f"{stack.gateway}/auth/accounts", headers={"Authorization": f"Bearer {STAFF_TOKEN}"},
                         json={"username": username, "password": password, "role": role}, timeout=10)
    assert made.status_code in (201, 409), made.text


def sign_in_form(tab: Page, username: str, password: str) -> None:
    """Fill the staff sign-in form and send it with Enter, as a keyboard user would."""
    tab.get_by_test_id("username-input").fill(username)
    tab.get_by_test_id("password-input").fill(password)
    tab.get_by_test_id("password-input").press("Enter")


def staff_login(tab: Page, stack: Stack) -> None:
    tab.goto(f"{stack.gateway}/notify/dashboard")
    sign_in_form(tab, ADMIN_USERNAME, ADMIN_PASSWORD)
    expect(tab.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    expect(tab.get_by_test_id("signed-in-as")).to_have_text(f"{ADMIN_USERNAME} (admin)")


def stored_token(tab: Page) -> Any:
    return tab.evaluate("sessionStorage.getItem('loanflow.staffToken')")


def track(tab: Page, stack: Stack, accepted: dict[str, Any], token: str | None = None) -> None:
    tab.goto(f"{stack.gateway}/notify/track/{accepted['id']}#token={token or accepted['access_token']}")


# ------------------------------------------------------------------------------------------ dashboard


def test_dashboard_refuses_a_wrong_password(page: Page, stack: Stack) -> None:
    staff_account(stack, *OFFICER, role="officer")
    username, password = OFFICER
    page.goto(f"{stack.gateway}/notify/dashboard")
    expect(page.get_by_test_id("password-input")).to_have_attribute("type", "password")
    expect(page.get_by_test_id("password-input")).to_have_attribute("autocomplete", "current-password")
    page.get_by_label("Username").fill(username)  # the labels name their inputs
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_test_id("login-error")).to_have_text("Wrong username or password.")
    expect(page.get_by_test_id("password-input")).to_have_value("")
    expect(page.get_by_test_id("applications")).to_be_hidden()
    expect(page.get_by_test_id("signed-in-as")).to_be_hidden()
    assert stored_token(page) is None

    # An officer may use this page.
    page.get_by_test_id("password-input").fill(password)
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_test_id("signed-in-as")).to_have_text(f"{username} (officer)")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    expect(page.get_by_test_id("login-error")).to_be_hidden()


def test_dashboard_asks_to_sign_in_again_when_the_session_is_over(page: Page, stack: Stack, client: Client) -> None:
    accepted = client.submit(application())
    staff_login(page, stack)
    token = stored_token(page)
    assert token and token not in page.url
    assert page.evaluate("Number(sessionStorage.getItem('loanflow.staffTokenExpiry')) > Date.now()")
    assert page.evaluate("localStorage.length") == 0
    expect(page.get_by_test_id(f"row-{accepted['id']}")).to_be_visible()

    # A token the server refuses (a 401, as for an expired one): the form again, the username kept.
    page.evaluate("sessionStorage.setItem('loanflow.staffToken', 'garbage')")
    page.reload()
    expect(page.get_by_test_id("login-error")).to_have_text(EXPIRED)
    expect(page.get_by_test_id("applications")).to_be_hidden()
    expect(page.get_by_test_id("sign-out")).to_be_hidden()
    expect(page.get_by_test_id("username-input")).to_have_value(ADMIN_USERNAME)
    assert stored_token(page) is None
    page.get_by_test_id("password-input").fill(ADMIN_PASSWORD)
    page.get_by_test_id("password-input").press("Enter")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    expect(page.get_by_test_id(f"row-{accepted['id']}")).to_be_visible()
    expect(page.get_by_test_id("login-error")).to_be_hidden()

    # A token whose time is up is not even tried.
    page.evaluate("sessionStorage.setItem('loanflow.staffTokenExpiry', String(Date.now() - 1000))")
    page.reload()
    expect(page.get_by_test_id("login-error")).to_have_text(EXPIRED)
    expect(page.get_by_test_id("connection")).to_be_hidden()
    assert stored_token(page) is None


def test_dashboard_follows_applications_live(page: Page, stack: Stack, client: Client) -> None:
    staff_login(page, stack)
    mark_page(page)
    approved = client.submit(application())
    too_long = client.submit(application(loan={"duration_months": 360},
                                         property={"city": "Bordeaux", "postcode": "33000"}))
    incident = client.submit(application(applicant={"full_name": "Paul Defaut", "birth_date": "1975-03-12"},
                                         property={"city": "Paris", "postcode": "75011"}))
    house = client.submit(application(property={"city": "Toulouse", "postcode": "31000", "kind": "house"},
                                      loan={"amount": "180000", "duration_months": 180}))
    waiting = client.submit(application(applicant={"employment_status": "self_employed"},
                                        property={"city": "Nantes", "postcode": "44000"}))
    row = {a["id"]: page.get_by_test_id(f"row-{a['id']}") for a in (approved, too_long, incident, house, waiting)}

    def status(accepted: dict[str, Any]) -> Any:
        return page.get_by_test_id(f"status-{accepted['id']}")

    for tr in row.values():
        expect(tr).to_be_visible()
    expect(status(approved)).to_have_text("APPROVED", timeout=SAGA)
    expect(status(too_long)).to_have_text("REJECTED", timeout=SAGA)
    expect(status(incident)).to_have_text("REJECTED", timeout=SAGA)
    expect(status(house)).to_have_text("APPROVED", timeout=SAGA)
    expect(status(waiting)).to_have_text("INFO REQUESTED", timeout=SAGA)
    expect(status(waiting)).to_have_attribute("data-status", "INFO_REQUESTED")
    expect(row[too_long["id"]]).to_contain_text("€200,000")
    expect(row[too_long["id"]]).to_contain_text("30 years")
    expect(row[too_long["id"]]).to_contain_text("Bordeaux")
    chip = page.get_by_test_id(f"reasons-{too_long['id']}").get_by_text("DURATION_TOO_LONG")
    expect(chip).to_have_attribute("title", re.compile(r"longer than our maximum of 300 months"))
    expect(page.get_by_test_id(f"reasons-{incident['id']}")).to_contain_text("PAYMENT_INCIDENT")
    expect(row[waiting["id"]]).to_contain_text("Self-employed")
    expect(page.get_by_test_id(f"since-{approved['id']}")).to_have_text(re.compile(r"^\d+ (s|min)"))

    # Newest change first.
    since = page.locator("#rows td.ago").evaluate_all("cells => cells.map(c => Number(c.dataset.since))")
    assert since == sorted(since, reverse=True)

    # Counters per status.
    expect(page.get_by_test_id("count-APPROVED").locator(".n")).to_have_text(re.compile(r"^[1-9]\d*$"))
    expect(page.get_by_test_id("count-REJECTED").locator(".n")).to_have_text(re.compile(r"^[1-9]\d*$"))

    # Filters: by status, then by text (city or id).
    page.get_by_test_id("filter-status").select_option("REJECTED")
    expect(row[too_long["id"]]).to_be_visible()
    expect(row[incident["id"]]).to_be_visible()
    expect(row[approved["id"]]).to_be_hidden()
    expect(row[waiting["id"]]).to_be_hidden()
    page.get_by_test_id("filter-status").select_option("")
    page.get_by_test_id("filter-text").fill("bordeaux")
    expect(row[too_long["id"]]).to_be_visible()
    expect(row[incident["id"]]).to_be_hidden()
    page.get_by_test_id("filter-text").fill(approved["id"][:13])
    expect(row[approved["id"]]).to_be_visible()
    expect(row[too_long["id"]]).to_be_hidden()
    page.get_by_test_id("filter-text").fill("")
    expect(row[incident["id"]]).to_be_visible()

    # The timeline of an approved application: every transition, in order, with the offer.
    row[approved["id"]].click()
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator("> li")).to_have_count(4)
    statuses = timeline.locator("> li").evaluate_all("items => items.map(i => i.dataset.status)")
    assert statuses == ["SUBMITTED", "EVALUATING", "DECIDING", "APPROVED"]
    expect(page.get_by_test_id("event-offer-4")).to_contain_text("per month")
    expect(page.get_by_test_id("event-offer-4")).to_contain_text("3.55 %")

    # A rejected one shows its reasons.
    row[too_long["id"]].click()
    expect(page.get_by_test_id("panel-id")).to_have_text(too_long["id"])
    expect(page.get_by_test_id("event-reasons-4")).to_contain_text("DURATION_TOO_LONG")

    # The panel of an application waiting for information follows it live.
    row[waiting["id"]].click()
    expect(page.get_by_test_id("event-requested-4")).to_contain_text("declared_income_year_1")
    expect(timeline.locator("> li")).to_have_count(4)
    assert client.post(waiting, "information", INCOME).status_code == 200
    expect(timeline.locator("> li")).to_have_count(7, timeout=SAGA)
    statuses = timeline.locator("> li").evaluate_all("items => items.map(i => i.dataset.status)")
    assert statuses == ["SUBMITTED", "EVALUATING", "DECIDING", "INFO_REQUESTED", "EVALUATING", "DECIDING",
                        "APPROVED"]
    expect(status(waiting)).to_have_text("APPROVED")
    expect(page.get_by_test_id("panel-status")).to_have_text("APPROVED")
    assert_not_reloaded(page)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1700)  # let the highlight fade
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"))

    # The session survives a reload; signing out forgets it.
    page.reload()
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    expect(row[approved["id"]]).to_be_visible()
    expect(page.get_by_test_id("signed-in-as")).to_have_text(f"{ADMIN_USERNAME} (admin)")
    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("login-form")).to_be_visible()
    expect(page.get_by_test_id("signed-in-as")).to_be_hidden()
    expect(page.get_by_test_id("applications")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0


# ------------------------------------------------------------------------------------------ applicant


def test_applicant_answers_the_information_request_and_sees_the_offer(page: Page, stack: Stack,
                                                                      client: Client) -> None:
    accepted = client.submit(application(applicant={"employment_status": "self_employed"}))
    sent: list[str] = []  # every URL the page asks for (its own address aside)
    page.on("request", lambda request: sent.append(request.url) if request.resource_type != "document" else None)
    track(page, stack, accepted)
    current = page.get_by_test_id("current-status")
    expect(current).to_have_attribute("data-status", "INFO_REQUESTED", timeout=SAGA)
    expect(current).to_have_text("INFO REQUESTED")
    assert "token" not in page.url  # the fragment is dropped from the address bar
    mark_page(page)

    form = page.get_by_test_id("info-form")
    expect(form).to_be_visible()
    expect(form).to_contain_text("Net income declared to the tax office for last year")
    page.get_by_test_id("info-declared_income_year_1").fill("seventy thousand")
    page.get_by_test_id("info-declared_income_year_2").fill("66000")
    page.get_by_test_id("info-submit").click()
    expect(page.get_by_test_id("error-declared_income_year_1")).to_have_text("Must be a non-negative amount in euros.")
    expect(page.get_by_test_id("error-declared_income_year_2")).to_be_hidden()
    expect(current).to_have_attribute("data-status", "INFO_REQUESTED")

    page.get_by_test_id("info-declared_income_year_1").fill(INCOME["declared_income_year_1"])
    page.get_by_test_id("info-submit").click()
    expect(current).to_have_text("APPROVED", timeout=SAGA)
    offer = page.get_by_test_id("offer")
    expect(offer).to_contain_text("Monthly payment")
    expect(offer).to_contain_text("3.55 %")
    expect(page.get_by_test_id("offer-total")).to_contain_text("€")
    expect(page.get_by_test_id("info-form")).to_be_hidden()
    expect(page.get_by_test_id("withdraw")).to_be_hidden()
    timeline = page.get_by_test_id("timeline")
    for seq in range(1, 8):
        expect(timeline.get_by_test_id(f"event-{seq}")).to_be_visible()
    expect(page.get_by_test_id("event-7")).to_have_attribute("data-status", "APPROVED")
    assert_not_reloaded(page)

    # The repayment schedule, once generated, downloads through a short-lived signed link.
    document = page.get_by_test_id("document-0")
    expect(document).to_be_visible(timeout=SAGA)
    href = document.get_attribute("href") or ""
    assert "link=" in href and "token=" not in href and accepted["access_token"] not in href
    download = page.request.get(f"{stack.gateway}{href}")
    assert download.status == 200 and download.body()
    # The long-lived token never was in a URL: the stream went by single-use tickets.
    assert [url for url in sent if accepted["access_token"] in url or "token=" in url] == []
    assert any(f"/notify/applications/{accepted['id']}/events?ticket=" in url for url in sent)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1700)
    page.screenshot(path=str(SCREENSHOTS / "applicant.png"))


def test_applicant_withdraws(page: Page, stack: Stack, client: Client) -> None:
    accepted = client.submit(application(applicant={"employment_status": "self_employed"}))
    track(page, stack, accepted)
    current = page.get_by_test_id("current-status")
    expect(current).to_have_attribute("data-status", "INFO_REQUESTED", timeout=SAGA)
    mark_page(page)
    page.once("dialog", lambda dialog: dialog.dismiss())  # changing one's mind first
    page.get_by_test_id("withdraw").click()
    expect(page.get_by_test_id("withdraw")).to_be_visible()
    assert client.get(accepted)["status"] == "INFO_REQUESTED"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("withdraw").click()
    expect(current).to_have_text("WITHDRAWN", timeout=SAGA)
    expect(page.get_by_test_id("withdraw")).to_be_hidden()
    expect(page.get_by_test_id("info-form")).to_be_hidden()
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "final")
    assert_not_reloaded(page)
    assert client.get(accepted)["status"] == "WITHDRAWN"


def test_applicant_page_refuses_a_wrong_token_then_accepts_the_right_one(page: Page, stack: Stack,
                                                                         client: Client) -> None:
    accepted, other = client.submit(application()), client.submit(application())
    track(page, stack, accepted, token="garbage")
    expect(page.get_by_test_id("token-error")).to_have_text("This access token is not valid.")
    page.get_by_test_id("token-input").fill(other["access_token"])  # someone else's application
    page.get_by_test_id("token-submit").click()
    expect(page.get_by_test_id("token-error")).to_have_text("No application with this id matches this access token.")
    page.get_by_test_id("token-input").fill(accepted["access_token"])
    page.get_by_test_id("token-submit").click()
    expect(page.get_by_test_id("current-status")).to_have_text("APPROVED", timeout=SAGA)
    expect(page.get_by_test_id("reasons")).to_be_hidden()


def test_an_applicant_whose_token_was_revoked_gets_a_new_one_by_email_and_follows_live(
        page: Page, stack: Stack, client: Client) -> None:
    address = f"page-{uuid.uuid4().hex[:8]}@example.org"
    accepted = client.submit(application(applicant={"employment_status": "self_employed", "email": address}))
    client.wait_for(accepted, {"INFO_REQUESTED"})
    revoke = requests.post(f"{stack.gateway}/loan/applications/{accepted['id']}/access-token/revoke",
                           headers={"Authorization": f"Bearer {STAFF_TOKEN}"}, timeout=10)
    assert revoke.status_code == 204
    notifications = f"{stack.gateway}/notify/applications/{accepted['id']}/notifications"
    eventually(lambda: requests.get(notifications, headers={"Authorization": f"Bearer {accepted['access_token']}"},
                                    timeout=10).status_code, lambda status: status == 401, timeout=15)

    track(page, stack, accepted)  # the old link
    expect(page.get_by_test_id("token-error")).to_have_text(
        "This access token was revoked, or replaced by a newer one sent to your e-mail address.")
    page.get_by_test_id("reissue-email").fill(address)
    page.get_by_test_id("reissue-submit").click()
    expect(page.get_by_test_id("reissue-message")).to_contain_text("a new access token has been sent")

    mail = eventually(lambda: [m for m in received(stack.maildir) if m["Message-ID"] ==
                               f"<{accepted['id']}.access-2@loanflow>"], bool, timeout=30)
    assert mail, "no e-mail with the new token"
    link = next(line for line in mail[0].get_body(("plain",)).get_content().splitlines() if "#token=" in line)
    page.goto(link.replace("http://127.0.0.1:8000", stack.gateway))
    current = page.get_by_test_id("current-status")
    expect(current).to_have_attribute("data-status", "INFO_REQUESTED", timeout=SAGA)
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    mark_page(page)
    token = link.split("#token=", 1)[1]
    answered = requests.post(f"{stack.gateway}/loan/applications/{accepted['id']}/information", json=INCOME,
                             headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answered.status_code == 200, answered.text
    expect(current).to_have_text("APPROVED", timeout=SAGA)  # live, over a stream opened with a ticket
    assert_not_reloaded(page)


# ------------------------------------------------------------------------------- security headers


@pytest.mark.parametrize("path", ["/loan/docs", "/notify/docs", "/tasks", "/notify/dashboard"])
def test_pages_work_under_their_content_security_policy(page: Page, stack: Stack, path: str) -> None:
    """Swagger UI (its start script moved out of the page), the task dashboard (its styles moved
    out) and the dashboard run with no inline script or style allowed; the fixture fails the test
    on any violation the browser reports."""
    answer = page.goto(f"{stack.gateway}{path}")
    assert answer is not None and "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    if path.endswith("/docs"):
        expect(page.locator(".opblock").first).to_be_visible()  # Swagger UI read the document
    elif path == "/tasks":
        expect(page.get_by_test_id("username-input")).to_be_visible()
        assert page.locator(".tb-wrap").evaluate("e => getComputedStyle(e).maxWidth") == "1200px"
    else:
        expect(page.get_by_test_id("username-input")).to_be_visible()
    page.wait_for_load_state("networkidle")
