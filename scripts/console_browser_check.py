#!/usr/bin/env python3
"""Drive the Veil web console in headless Chromium (Selenium) against a live `veil serve`.

Usage (the test VeilCLITests/ConsoleBrowserTests runs it):
    VEIL_REVIEWER_TOKEN=... VEIL_AUDITOR_TOKEN=... VEIL_INGEST_TOKEN=... \\
    python3 scripts/console_browser_check.py --url http://127.0.0.1:PORT --approve MODEL_ID \\
        --hostile MODEL_ID --out DIR

Tokens come from the environment (never argv, never a URL). What it does, failing with a message at
the first step that does not hold:
  reviewer: signs in, sees the budget charts (against the cap, by principal) and the Models list (one request, each model with its
            private headline metric), opens the model to approve, sees its card with three plots
            (ROC, precision-recall, calibration) drawn from the noisy counts, approves it with a note (and an override note when
            the card says it fails its quality gate), revokes it with a note, opens the model whose
            review note is <script>alert(1)</script> and sees that note as text (no script element,
            no alert), compares two models side by side;
  auditor:  sees the budget chart (an image that loaded), the audit page (chain verified, records in
            the table, the verify commands), the queries and training page;
  ingest:   sees no page and no model or budget data.
Throughout: 0 JavaScript console errors (the browser log at SEVERE), no token in a URL or a cookie.
Screenshots go to DIR. Prints one JSON object with what it saw.
Needs Debian's chromium and chromium-driver and Selenium (scripts/install-deps.sh installs them).
"""

import argparse
import json
import os
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

HOSTILE = "<script>alert(1)</script>"


class Check:
    def __init__(self, url, out):
        options = webdriver.ChromeOptions()
        options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,1800", "--disable-extensions", "--no-first-run"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
        self.driver = webdriver.Chrome(options=options, service=service)
        self.driver.set_page_load_timeout(30)
        self.url = url.rstrip("/")
        self.out = out
        self.errors = []
        self.seen = {}
        self.screenshots = []

    def wait(self, condition, what, timeout=30):
        try:
            return WebDriverWait(self.driver, timeout).until(condition)
        except Exception:
            self.shot("failure")
            raise AssertionError(f"timed out waiting for {what}; page text: {self.text('body')[:1500]!r}")

    def text(self, selector):
        elements = self.driver.find_elements(By.CSS_SELECTOR, selector)
        return elements[0].text if elements else ""

    def shot(self, name):
        path = os.path.join(self.out, f"console-{name}.png")
        self.driver.save_screenshot(path)
        self.screenshots.append(path)

    def collect_console_errors(self, phase):
        for entry in self.driver.get_log("browser"):
            if entry.get("level") == "SEVERE":
                self.errors.append(f"{phase}: {entry.get('message')}")

    def expect(self, condition, message):
        if not condition:
            self.shot("failure")
            raise AssertionError(message)

    def no_token_anywhere(self, token):
        self.expect(token not in self.driver.current_url, "the token appeared in the URL")
        self.expect(not self.driver.get_cookies(), "the console set a cookie")
        stored = self.driver.execute_script("return window.sessionStorage.getItem('veil.token');")
        self.expect(stored == token, "the token is not in sessionStorage")
        local = self.driver.execute_script("return window.localStorage.length;")
        self.expect(local == 0, "the console wrote to localStorage")

    def sign_in(self, token):
        self.driver.get(self.url + "/console")
        field = self.wait(EC.visibility_of_element_located((By.ID, "token")), "the sign-in form")
        field.send_keys(token)
        self.driver.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()
        self.wait(EC.visibility_of_element_located((By.ID, "who")), "the signed-in header")

    def sign_out(self):
        self.driver.find_element(By.ID, "sign-out").click()
        self.wait(EC.visibility_of_element_located((By.ID, "token")), "the sign-in form after signing out")
        stored = self.driver.execute_script("return window.sessionStorage.getItem('veil.token');")
        self.expect(stored is None, "signing out left the token in sessionStorage")

    def open_model(self, model_id):
        self.wait(EC.element_to_be_clickable((By.CSS_SELECTOR, f"button.model-link[data-model-id='{model_id}']")),
                  f"model {model_id} in the list").click()
        return self.wait(EC.visibility_of_element_located((By.CSS_SELECTOR, f"article.model-card[data-model-id='{model_id}']")),
                         f"the card of {model_id}")

    def hold_first_fetch(self, path, milliseconds):
        """Delays the page's next request for `path` (only that one) by `milliseconds`; once it is
        answered, `window.veilHeldFetchAnswered` is true."""
        self.driver.execute_script("""
            const path = arguments[0], delay = arguments[1], fetch = window.fetch;
            let held = false;
            window.veilHeldFetchAnswered = false;
            window.fetch = (input, init) => {
                if (!held && String(input).includes(path)) {
                    held = true;
                    return new Promise((resolve) => setTimeout(resolve, delay)).then(() => fetch(input, init))
                        .finally(() => { window.veilHeldFetchAnswered = true; });
                }
                return fetch(input, init);
            };""", path, milliseconds)

    def charts_load(self, ids):
        """Whether each chart image `ids` names is on the page and its source loads (a revoked blob
        does not), one bool per chart."""
        return self.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const charts = arguments[0].map((id) => document.getElementById(id));
            const loads = (src) => new Promise((resolve) => {
                const image = new Image();
                image.onload = () => resolve(image.naturalWidth > 0);
                image.onerror = () => resolve(false);
                image.src = src;
            });
            Promise.all(charts.map((chart) => chart ? loads(chart.src) : false)).then(done);""", ids)

    def no_alert(self):
        try:
            alert = self.driver.switch_to.alert
            text = alert.text
            alert.dismiss()
            raise AssertionError(f"an alert opened: {text!r}")
        except NoAlertPresentException:
            pass

    def reviewer(self, token, approve, hostile):
        self.sign_in(token)
        self.no_token_anywhere(token)
        nav = [button.text for button in self.driver.find_elements(By.CSS_SELECTOR, "nav button")]
        self.seen["reviewer_pages"] = nav
        self.expect("Budget" in nav and "Models" in nav and "Audit" not in nav, f"a reviewer's pages: {nav}")
        # A reviewer weighs a model against what it cost: the budget chart first. The page is opened twice
        # at once (its button clicked again while it renders) and the older rendering is made to finish
        # last — its first request for the by-principal chart held for a second — as a slow server or a
        # double click does: what stays on screen must be the newer rendering, whose charts load (the
        # older one's blobs were revoked when the page was opened again).
        self.hold_first_fetch("/v1/budget/principals.svg", milliseconds=1000)
        self.driver.find_element(By.ID, "nav-budget").click()
        time.sleep(0.2)
        self.driver.find_element(By.ID, "nav-budget").click()
        # No fixed wait for the renderings (a slow machine outlasts any): once the held request is answered,
        # the charts must come to load, and still load a second later, after the older rendering's end.
        self.wait(lambda driver: driver.execute_script("return window.veilHeldFetchAnswered === true"),
                  "the held chart request to be answered")
        charts = ["budget-chart", "budget-principals-chart"]
        try:
            WebDriverWait(self.driver, 30, poll_frequency=0.25).until(lambda _: self.charts_load(charts) == [True, True])
        except TimeoutException:
            pass  # judged below, by what is on screen then
        time.sleep(1)
        live = self.charts_load(charts)
        self.expect(live == [True, True],
                    f"after the budget page was opened twice at once, a chart on screen is missing or its blob revoked: {live}")
        chart = self.wait(EC.visibility_of_element_located((By.ID, "budget-chart")), "the reviewer's budget chart")
        self.wait(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0;", chart),
                  "the reviewer's budget chart to load")
        by_principal = self.wait(EC.visibility_of_element_located((By.ID, "budget-principals-chart")),
                                 "the cumulative ε by principal chart")
        self.wait(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0;", by_principal),
                  "the by-principal chart to load")
        self.shot("reviewer-budget")
        self.driver.find_element(By.ID, "nav-models").click()
        rows = self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#models tr")[1:] or False, "the models table")
        self.seen["models_listed"] = len(rows)
        # The list is one request: no model was fetched one by one to fill it.
        fetched = self.driver.execute_script("return performance.getEntriesByType('resource').map((entry) => entry.name);")
        per_model = [url for url in fetched if "/v1/models/" in url]
        self.expect(not per_model, f"the models page fetched models one by one: {per_model}")
        headlines = [row.find_elements(By.TAG_NAME, "td")[6].text for row in rows]
        self.seen["model_headlines"] = headlines
        self.expect(all(h.startswith("AUC ") and h.endswith("(DP)") for h in headlines), f"headline private metrics: {headlines}")
        self.shot("models")

        card = self.open_model(approve)
        # Under the shipped policy the exact curves stay off HTTP: the three plots are drawn from the
        # noisy holdout histogram, and say so.
        plots = card.find_elements(By.CSS_SELECTOR, "section.private-plots svg")
        titles = [plot.find_element(By.TAG_NAME, "title").get_attribute("textContent") for plot in plots]
        self.expect(len(plots) == 3, f"the card shows {len(plots)} private plots, not ROC, precision-recall and calibration")
        self.seen["plots"] = titles
        for kind in ("ROC", "Precision", "Calibration"):
            self.expect(any(t.startswith(kind) and t.endswith("differentially private (from noisy counts)") for t in titles),
                        f"no differentially private {kind} plot: {titles}")
        self.expect(not card.find_elements(By.CSS_SELECTOR, "section.exact-plots"), "the shipped policy showed the exact plots")
        self.shot("model-card")
        note = self.driver.find_element(By.ID, "review-note")
        note.send_keys("card, plots and baselines checked in the console")
        gate = self.text("#quality-gate")
        self.seen["quality_gate"] = gate
        overrides = self.driver.find_elements(By.ID, "override-quality")
        self.expect(bool(overrides) == ("FAILS" in gate), f"the override field does not follow the gate: {gate!r}")
        if overrides:
            overrides[0].send_keys("console check: quality is not the point")
        self.driver.find_element(By.ID, "approve").click()
        self.wait(lambda d: "is now approved" in d.find_element(By.ID, "message").text, "the approval message")
        self.wait(lambda d: "Review (approved)" in self.text("#review"), "the card to show the approved state")

        revoke_note = self.wait(EC.visibility_of_element_located((By.ID, "revoke-note")), "the revoke note field")
        revoke_note.send_keys("revoked in the console check")
        self.driver.find_element(By.ID, "revoke").click()
        self.wait(lambda d: "is now revoked" in d.find_element(By.ID, "message").text, "the revocation message")
        self.wait(lambda d: "Review (revoked)" in self.text("#review"), "the card to show the revoked state")
        self.expect("revoked in the console check" in self.text("#revoked"), "the revocation note is not shown")
        self.expect(not self.driver.find_elements(By.ID, "revoke"), "a revoked model still offers Revoke")
        self.shot("revoked")

        self.driver.find_element(By.CSS_SELECTOR, "#page button.link").click()  # back to the list
        card = self.open_model(hostile)
        note_cell = [row for row in card.find_elements(By.CSS_SELECTOR, "tr") if row.text.startswith("review note")]
        self.expect(note_cell and HOSTILE in note_cell[0].text, "the hostile review note is not shown as text")
        self.expect(not card.find_elements(By.TAG_NAME, "script"), "the card holds a script element")
        self.expect(HOSTILE in self.text("#review"), "the review panel does not show the hostile note as text")
        self.no_alert()
        self.seen["hostile_note_shown_as_text"] = True
        self.shot("hostile-note")

        self.driver.find_element(By.CSS_SELECTOR, "#page button.link").click()
        self.wait(EC.presence_of_element_located((By.ID, "models")), "the models table again")
        boxes = self.driver.find_elements(By.CSS_SELECTOR, "#models input[type=checkbox]")
        self.expect(len(boxes) >= 2, "fewer than two models to compare")
        boxes[0].click()
        boxes[1].click()
        self.driver.find_element(By.ID, "compare").click()
        side = self.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#comparison article.model-card")) == 2 or False,
                         "two cards side by side")
        self.expect(side, "no comparison")
        self.shot("compare")
        self.collect_console_errors("reviewer")
        self.sign_out()

    def auditor(self, token):
        self.sign_in(token)
        self.no_token_anywhere(token)
        nav = [button.text for button in self.driver.find_elements(By.CSS_SELECTOR, "nav button")]
        self.seen["auditor_pages"] = nav
        chart = self.wait(EC.visibility_of_element_located((By.ID, "budget-chart")), "the budget chart")
        self.wait(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0;", chart),
                  "the budget chart to load")
        spends = self.driver.find_elements(By.CSS_SELECTOR, "#spends tr")[1:]
        self.seen["spends"] = len(spends)
        self.expect(len(spends) >= 1, "no spend in the budget table")
        self.shot("budget")

        self.driver.find_element(By.ID, "nav-audit").click()
        status = self.wait(EC.visibility_of_element_located((By.ID, "audit-status")), "the audit status")
        self.expect("verifies" in status.text and "NOT" not in status.text, f"audit status: {status.text}")
        records = self.driver.find_elements(By.CSS_SELECTOR, "#audit-table tr")[1:]
        self.seen["audit_records"] = len(records)
        self.expect(len(records) >= 3, "the audit table is (nearly) empty")
        commands = self.text("#audit-commands")
        self.expect("veil audit verify --file audit.ndjson" in commands and "verify_audit.py" in commands, "no verify command shown")
        download = self.driver.find_element(By.ID, "audit-download").get_attribute("href")
        self.expect(download.startswith("blob:"), "the export download is not a blob of the fetched log")
        # Filtering by action narrows the table to that action.
        from selenium.webdriver.support.ui import Select
        Select(self.driver.find_element(By.ID, "filter-action")).select_by_value("budget.spend")
        filtered = self.driver.find_elements(By.CSS_SELECTOR, "#audit-table tr")[1:]
        self.expect(filtered and all("budget.spend" in row.text for row in filtered), "the action filter did not filter")
        self.seen["audit_spend_records"] = len(filtered)
        self.shot("audit")

        self.driver.find_element(By.ID, "nav-activity").click()
        self.wait(EC.visibility_of_element_located((By.ID, "releases")), "the releases table")
        self.shot("activity")
        self.collect_console_errors("auditor")
        self.sign_out()

    def ingest(self, token):
        self.sign_in(token)
        self.no_token_anywhere(token)
        self.wait(EC.visibility_of_element_located((By.ID, "no-pages")), "the no-page notice")
        self.expect(not self.driver.find_elements(By.CSS_SELECTOR, "nav button"), "an ingest token sees pages")
        for selector in ("#models", "#spends", "#budget-chart", "article.model-card", "#audit-table"):
            self.expect(not self.driver.find_elements(By.CSS_SELECTOR, selector), f"an ingest token sees {selector}")
        self.seen["ingest_sees"] = self.text("#page")
        self.shot("ingest")
        self.collect_console_errors("ingest")
        self.sign_out()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--approve", required=True, help="the candidate the reviewer approves, then revokes")
    parser.add_argument("--hostile", required=True, help="a reviewed model whose note is <script>alert(1)</script>")
    parser.add_argument("--out", required=True, help="folder for the screenshots")
    arguments = parser.parse_args()
    tokens = {role: os.environ.get(f"VEIL_{role.upper()}_TOKEN") for role in ("reviewer", "auditor", "ingest")}
    missing = [role for role, token in tokens.items() if not token]
    if missing:
        print(f"missing tokens in the environment: {', '.join('VEIL_' + r.upper() + '_TOKEN' for r in missing)}", file=sys.stderr)
        return 2
    os.makedirs(arguments.out, exist_ok=True)
    check = Check(arguments.url, arguments.out)
    try:
        check.reviewer(tokens["reviewer"], arguments.approve, arguments.hostile)
        check.auditor(tokens["auditor"])
        check.ingest(tokens["ingest"])
        check.collect_console_errors("end")
    except AssertionError as failure:
        check.collect_console_errors("failure")
        print(json.dumps({"ok": False, "failure": str(failure), "console_errors": check.errors, "seen": check.seen}))
        return 1
    finally:
        check.driver.quit()
    result = {"ok": not check.errors, "console_errors": check.errors, "seen": check.seen, "screenshots": check.screenshots}
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
