"""The triage page in headless Chromium (Selenium WebDriver with Debian's chromium-driver).

Run by tests/browser.rs, which starts the server and checks the library's view afterwards.
Environment: VIGIL_URL, VIGIL_SUB, VIGIL_TITLE (the alert walked through), VIGIL_HOST (its host
name), VIGIL_SIMULATED (how many stored alerts the suppression rule matches), VIGIL_HOSTILE
(the id of the alert whose content is hostile markup), VIGIL_SHOTS (screenshot directory).
First the queue and an alert by keyboard alone; then follows the seed: queue, alert, Take action, suppress similar with simulate, dismiss, feedback,
the alert leaves the queue and is under the Dismissed filter; then hostile content runs no
script. A screenshot per step. Raises (exit non-zero) on any failed expectation.
"""

import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

URL = os.environ["VIGIL_URL"]
SUB = os.environ["VIGIL_SUB"]
TITLE = os.environ["VIGIL_TITLE"]
HOST = os.environ["VIGIL_HOST"]
SIMULATED = int(os.environ["VIGIL_SIMULATED"])
HOSTILE = os.environ["VIGIL_HOSTILE"]
SHOTS = os.environ["VIGIL_SHOTS"]

step_no = 0


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def shot(driver, name, focus=None):
    global step_no
    step_no += 1
    if focus is not None:
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", driver.find_element(By.ID, focus))
    path = os.path.join(SHOTS, f"{step_no:02d}-{name}.png")
    expect(driver.save_screenshot(path), f"screenshot {path}")
    print(f"step {step_no}: {name} -> {path}", file=sys.stderr)


def go(driver, element):
    """Clicks a link or a submit button and waits for the next page to replace this one."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 20).until(expected_conditions.staleness_of(page))
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")


def no_script_ran(driver, where):
    """Nothing injected ran, and no element came from alert content."""
    expect(driver.execute_script("return window.__xss === undefined"), f"{where}: a script ran")
    for tag in ("script", "img", "svg", "iframe", "object", "embed"):
        found = driver.find_elements(By.TAG_NAME, tag)
        expect(not found, f"{where}: the page holds a <{tag}> element")
    for a in driver.find_elements(By.TAG_NAME, "a"):
        href = (a.get_attribute("href") or "").lower()
        expect(not href.startswith("javascript:"), f"{where}: a javascript: link")


def labelled(driver, where):
    """Every visible form control has a label (accessibility)."""
    missing = driver.execute_script(
        """
        return Array.from(document.querySelectorAll('input, select, textarea'))
          .filter(e => e.type !== 'hidden')
          .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
          .map(e => e.name || e.id);
        """
    )
    expect(not missing, f"{where}: controls without a label: {missing}")


def main():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("VIGIL_CHROMIUM", "/usr/bin/chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1366,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=os.environ.get("VIGIL_CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(20)
    try:
        keyboard(driver)
        walk(driver)
        hostile(driver)
        logs = [e["message"] for e in driver.get_log("browser")]
        blocked = [m for m in logs if "Content Security Policy" in m]
        expect(not blocked, f"the page tried something its policy blocked: {blocked}")
    except Exception:
        driver.save_screenshot(os.path.join(SHOTS, "failure.png"))
        print("at " + driver.current_url + ":\n" + driver.find_element(By.TAG_NAME, "body").text, file=sys.stderr)
        raise
    finally:
        driver.quit()


def keyboard(driver):
    """The queue's alerts are reachable and opened with the keyboard alone."""
    driver.get(f"{URL}/ui/t/{SUB}/alerts")
    for _ in range(60):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        if driver.execute_script("return !!document.activeElement.closest('table.alerts a')"):
            break
    else:
        raise AssertionError("Tab never reached an alert in the queue")
    page = driver.find_element(By.TAG_NAME, "html")
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    WebDriverWait(driver, 20).until(expected_conditions.staleness_of(page))
    expect(driver.find_elements(By.ID, "alert-title"), "Enter on an alert did not open it")
    # The tabs of the alert are links too: Tab reaches "Take action".
    for _ in range(30):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        if driver.execute_script("return document.activeElement.id") == "tab-action":
            break
    else:
        raise AssertionError("Tab never reached the Take action tab")


def walk(driver):
    # 1. Security alerts: the queue.
    driver.get(f"{URL}/ui/t/{SUB}/alerts")
    expect(driver.find_element(By.TAG_NAME, "h1").text == "Security alerts", "the queue's heading")
    expect(driver.find_elements(By.LINK_TEXT, TITLE), f"{TITLE!r} is not in the queue")
    labelled(driver, "queue")
    no_script_ran(driver, "queue")
    shot(driver, "queue")

    # 2. The alert: left pane and details.
    go(driver, driver.find_element(By.LINK_TEXT, TITLE))
    expect(driver.find_element(By.ID, "alert-title").text == TITLE, "the alert's title")
    expect(driver.find_element(By.ID, "alert-status").text.startswith("Active"), "status Active")
    hit = driver.find_elements(By.CSS_SELECTOR, ".tactics li.hit")
    expect(hit and "Execution" in hit[0].text, "the tactic strip marks Execution")
    expect(HOST in driver.page_source, "the entity is shown")
    shot(driver, "alert-details")

    # 3. Take action.
    go(driver, driver.find_element(By.ID, "tab-action"))
    expect("Mitigate the threat" in driver.page_source, "remediation")
    labelled(driver, "take action")
    shot(driver, "take-action")

    # 4. Suppress similar alerts: pick the host, simulate first.
    box = driver.find_element(By.CSS_SELECTOR, "input[name=field][value='entities.host.hostname']")
    box.click()
    name = driver.find_element(By.ID, "rule-name")
    name.send_keys("browser-" + HOST)
    Select(driver.find_element(By.ID, "rule-reason")).select_by_value("FalsePositive")
    go(driver, driver.find_element(By.ID, "simulate"))
    sim = driver.find_element(By.ID, "simulation").text
    expect(f"would match {SIMULATED} stored alert" in sim, f"simulation: {sim!r}")
    # The form keeps what was picked.
    expect(driver.find_element(By.CSS_SELECTOR, "input[name=field][value='entities.host.hostname']").is_selected(), "field kept")
    shot(driver, "suppress-simulated", focus="simulation")

    # 5. Save the rule; the page explains it on this alert.
    go(driver, driver.find_element(By.ID, "create-rule"))
    expect(driver.find_element(By.ID, "notice").text == "Suppression rule created.", "rule notice")
    expect(driver.find_element(By.ID, "explanation").text.strip(), "explanation shown")
    shot(driver, "rule-created", focus="explanation")

    # 6. Dismiss it, with a comment.
    driver.find_element(By.ID, "to-Dismissed").click()
    driver.find_element(By.ID, "status-comment").send_keys("benign: test machine")
    go(driver, driver.find_element(By.ID, "status-submit"))
    expect(driver.find_element(By.ID, "notice").text == "Status changed.", "status notice")
    expect(driver.find_element(By.ID, "alert-status").text.startswith("Dismissed"), "now Dismissed")
    shot(driver, "dismissed")

    # 7. Feedback: not useful, with a reason and a comment.
    driver.find_element(By.ID, "useful-no").click()
    Select(driver.find_element(By.ID, "feedback-reason")).select_by_value("FalsePositive")
    driver.find_element(By.ID, "feedback-comment").send_keys("a test machine")
    go(driver, driver.find_element(By.ID, "feedback-submit"))
    expect("your feedback was recorded" in driver.find_element(By.ID, "notice").text, "feedback notice")
    shot(driver, "feedback")

    # 8. Back to the queue: it left.
    go(driver, driver.find_element(By.LINK_TEXT, "Security alerts"))
    expect(not driver.find_elements(By.LINK_TEXT, TITLE), "the dismissed alert is still in the queue")
    shot(driver, "queue-after")

    # 9. One filter away: Dismissed.
    go(driver, driver.find_element(By.ID, "status-Dismissed"))
    expect(driver.find_elements(By.LINK_TEXT, TITLE), "the alert is not under Dismissed")
    shot(driver, "dismissed-filter")


def hostile(driver):
    driver.get(f"{URL}/ui/t/{SUB}/alerts/{HOSTILE}")
    title = driver.find_element(By.ID, "alert-title").text
    expect(title == "<script>window.__xss=1</script>Evil", f"the title is shown as text: {title!r}")
    expect('"><img src=x onerror="window.__xss=2">' in driver.find_element(By.CLASS_NAME, "description").text, "description as text")
    no_script_ran(driver, "hostile details")
    shot(driver, "hostile-details")
    go(driver, driver.find_element(By.ID, "tab-action"))
    expect("<iframe src=//evil.example></iframe>" in driver.page_source.replace("&lt;", "<").replace("&gt;", ">"), "remediation as text")
    no_script_ran(driver, "hostile take action")
    shot(driver, "hostile-take-action")
    driver.get(f"{URL}/ui/t/{SUB}/alerts?q=Evil")
    no_script_ran(driver, "hostile queue")


if __name__ == "__main__":
    main()
