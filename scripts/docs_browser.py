#!/usr/bin/env python3
"""Browser test of the API explorer at BASE_URL/docs (run by scripts/docs-browser.sh).

Against the document the service serves at BASE_URL/openapi.json, checks in headless Chromium
that: the page renders the document's title; every operation is shown (method, path and
operationId); one operation with a JSON request body, expanded, shows its body's schema; the
browser console holds no SEVERE entry. Exits non-zero when any check fails or Chromium cannot
start.
"""

import json
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

# Debian's browser and its matching driver: naming both keeps Selenium Manager from looking
# for (and downloading) either.
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Generous on purpose: a loaded 2-core CI machine must not fail a check by being slow.
WAIT = 120
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# The operation whose request body is checked, when the document has it (any other with a JSON
# body otherwise).
PREFERRED_BODY_OPERATION = "createUser"


def fetch(url):
    with urllib.request.urlopen(url, timeout=WAIT) as response:
        return response.read()


def operations(doc):
    return [
        (method.upper(), path, op.get("operationId"), op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def body_schema(doc, op):
    schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def start_chromium():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def check_page(driver, base, doc):
    fetch(base + "/docs")  # an HTTP error here fails at once instead of after the wait
    driver.get(base + "/docs")
    title = doc["info"]["title"]
    WebDriverWait(driver, WAIT).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".info .title"), title),
        f"no title {title!r} rendered within {WAIT}s",
    )
    return f"title {title!r} rendered"


def check_operations(driver, doc):
    expected = [(method, path, op_id) for method, path, op_id, _ in operations(doc)]
    # One snapshot in one script call: the page may re-render between WebDriver round trips.
    snapshot = """return [...document.querySelectorAll('.opblock')].filter(b => b.checkVisibility())
        .map(b => [b.querySelector('.opblock-summary-method')?.textContent.trim().toUpperCase(),
                   b.querySelector('.opblock-summary-path')?.getAttribute('data-path'), b.id]);"""
    diff = {}

    # Swagger UI gives no sign that it has rendered everything: wait until the page holds
    # exactly the document's operations (so a missing one fails only after the full wait).
    def complete(driver):
        shown = driver.execute_script(snapshot)
        # Swagger UI names an operation's block "operations-<tag>-<operationId>".
        diff["missing"] = [
            f"{m} {p} ({i})"
            for m, p, i in expected
            if not any(sm == m and sp == p and (i is None or sid.endswith("-" + i)) for sm, sp, sid in shown)
        ]
        diff["unexpected"] = sorted({f"{sm} {sp}" for sm, sp, _ in shown} - {f"{m} {p}" for m, p, _ in expected})
        return not diff["missing"] and not diff["unexpected"]

    try:
        WebDriverWait(driver, WAIT).until(complete)
    except WebDriverException as e:
        raise AssertionError(f"after {WAIT}s: missing {diff.get('missing')}, unexpected {diff.get('unexpected')}") from e
    return f"all {len(expected)} operations shown"


def check_request_body(driver, doc):
    candidates = [
        (op_id, list(body_schema(doc, op).get("properties", {})))
        for _, _, op_id, op in operations(doc)
        if op_id and body_schema(doc, op).get("properties")
    ]
    if not candidates:
        raise AssertionError("the document has no operation with a JSON body of named properties")
    op_id, properties = next((c for c in candidates if c[0] == PREFERRED_BODY_OPERATION), candidates[0])

    wait = WebDriverWait(driver, WAIT)
    block = f'.opblock[id$="-{op_id}"]'
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, f"{block} .opblock-summary-control"))).click()
    body = f"{block} .opblock-section-request-body"
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, body)), f"{op_id}: no request body section")
    # The "Schema" tab: the default one shows an example value, not the schema.
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, f'{body} button[data-name="model"]'))).click()
    # By text, not by class: OpenAPI 3.0 and 3.1 documents render schemas with different markup.
    box = f"//*[contains(@class,'opblock-section-request-body')]//*[contains(@class,'model-box')]"
    root = driver.find_element(By.CSS_SELECTOR, block)
    for name in properties:
        wait.until(
            lambda _: any(e.is_displayed() for e in root.find_elements(By.XPATH, f".{box}//*[text()[normalize-space()='{name}']]")),
            f"{op_id}: property {name!r} of the request body schema not shown",
        )
    return f"{op_id}: request body schema shows {', '.join(properties)}"


def check_console(driver):
    severe = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    if severe:
        raise AssertionError("; ".join(severe))
    return "no SEVERE entries"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: docs_browser.py BASE_URL")
    base = sys.argv[1].rstrip("/")
    try:
        doc = json.loads(fetch(base + "/openapi.json"))
    except Exception as e:
        sys.exit(f"FAIL openapi: cannot read {base}/openapi.json: {e}")
    start = time.monotonic()
    try:
        driver = start_chromium()
    except WebDriverException as e:
        sys.exit(f"FAIL chromium: cannot start {CHROMIUM} through {CHROMEDRIVER}: {e.msg}")
    print(f"chromium started ({time.monotonic() - start:.1f} s)", flush=True)

    counts = {"passed": 0, "failed": 0, "skipped": 0}

    def run(name, check, *args):
        start = time.monotonic()
        try:
            line, passed = f"PASS {name}: {check(*args)}", True
        except Exception as e:
            message = getattr(e, "msg", None) or str(e) or type(e).__name__
            line, passed = f"FAIL {name}: {message.strip().splitlines()[0]}", False
        print(f"{line} ({time.monotonic() - start:.1f} s)", flush=True)
        counts["passed" if passed else "failed"] += 1
        return passed

    try:
        if run("page", check_page, driver, base, doc):
            run("operations", check_operations, driver, doc)
            run("request body", check_request_body, driver, doc)
        else:
            # Without a rendered page each would only wait out its timeout.
            for name in ("operations", "request body"):
                print(f"SKIP {name}: the page did not render")
                counts["skipped"] += 1
        run("console", check_console, driver)
    finally:
        driver.quit()
    print(f"docs-browser: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    sys.exit(1 if counts["failed"] or counts["skipped"] else 0)


if __name__ == "__main__":
    main()
