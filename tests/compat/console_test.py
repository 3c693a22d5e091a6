"""The web console in a real browser: Debian's headless Chromium driven by Selenium through
chromedriver, against a Menagerie server whose data is made and checked with kazoo.

    python3 tests/compat/console_test.py                # needs target/release/menagerie
    MENAGERIE_SCREENSHOTS=dir python3 tests/compat/console_test.py

Checks (one TESTRESULT line each): the tree loads lazily; a node opens with its data, stat
and ACL (text and pretty JSON views); editing data saves it (kazoo reads the new value) and
invalid JSON is refused in the JSON view; a change made by kazoo shows up by itself (the
console's Server-Sent-Events watch); the node's history from the transaction log lists its
earlier values and restoring one sets it back (kazoo reads it), and the recent-changes view
lists the writes; an ACL-protected node is refused anonymously and with a
wrong login, and shown after logging in as its owner; the sessions, charts and ensemble views
render; the browser logged no JavaScript error. Screenshots go to the folder printed first
(default target/console-screenshots), kept as CI artifacts.

Needs: chromium and chromium-driver (Debian), pip selenium and kazoo.
"""

from __future__ import annotations

import hashlib
import base64
import os
import sys
import tempfile
import time
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import zkserver  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 15  # seconds for anything the page does


def digest(user_password: str) -> str:
    user = user_password.split(":", 1)[0]
    return user + ":" + base64.b64encode(hashlib.sha1(user_password.encode()).digest()).decode()


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, fn):
        t0 = time.monotonic()
        try:
            fn()
            self.passed += 1
            print(f"TESTRESULT PASS console[{name}] ({time.monotonic() - t0:.1f} s)")
        except Exception as e:  # noqa: BLE001
            self.failed += 1
            print(f"    {type(e).__name__}: {e}")
            print(f"TESTRESULT FAIL console[{name}]")


def main() -> int:
    zkserver.install_signal_handlers()
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC
        from selenium.webdriver.support.ui import WebDriverWait
        from kazoo.client import KazooClient
        from kazoo.security import make_digest_acl
    except ImportError as e:
        missing.append(str(e))
    if missing:
        print(f"cannot run: missing {missing} (apt chromium chromium-driver, pip selenium kazoo)")
        print("TESTRESULT FAIL console[prerequisites]")
        return 2
    shots = Path(os.environ.get("MENAGERIE_SCREENSHOTS", zkserver.REPO_ROOT / "target" / "console-screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {shots}")
    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager look for a browser online
    checks = Checks()
    profile = tempfile.mkdtemp(prefix="console-chromium-")
    with zkserver.start_server("menagerie", admin=True) as srv:
        zk = KazooClient(hosts=srv.hostport, timeout=10.0)
        zk.start(timeout=15)
        zk.create("/app/config", b'{"color": "blue", "size": 3}', makepath=True)
        zk.create("/app/other", b"plain text")
        for i in range(5):
            zk.create(f"/app/items/item-{i}", b"x" * (100 * i), makepath=True)
        zk.create("/secret", b"bob's data", acl=[make_digest_acl("bob", "pw", all=True)])
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,900"]:
            opts.add_argument(flag)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        base = f"http://{zkserver.HOST}:{srv.admin_port}"
        wait = WebDriverWait(driver, WAIT)

        def row(path):
            return wait.until(EC.element_to_be_clickable(
                (By.CSS_SELECTOR, f'#tree li[data-path="{path}"] > .row')))

        def text_of(css):
            return driver.find_element(By.CSS_SELECTOR, css).text

        def until_text(css, needle):
            wait.until(lambda d: needle in d.find_element(By.CSS_SELECTOR, css).text,
                       message=f"{needle!r} never appeared in {css}")

        def shot(name):
            driver.save_screenshot(str(shots / f"{name}.png"))

        try:
            def tree_loads():
                driver.get(base + "/console")
                wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "yes")
                row("/app")
                row("/secret")
                assert "(3)" in row("/app").text, row("/app").text  # child count shown
                row("/app").click()
                row("/app/config")
                row("/app/items").click()
                row("/app/items/item-4")
                shot("tree")
            checks.run("tree-loads", tree_loads)

            def node_opens():
                row("/app/config").click()
                until_text("#data-view", '"color": "blue"')
                until_text("#stat", "dataLength")
                until_text("#acl", "anyone")
                driver.find_element(By.CSS_SELECTOR, '#data-tabs button[data-mode="json"]').click()
                until_text("#data-view", '"size": 3')
                assert "\n" in text_of("#data-view"), "pretty-printed"
                shot("node")
            checks.run("node-opens", node_opens)

            def edit_data():
                driver.find_element(By.ID, "edit").click()
                area = driver.find_element(By.ID, "data-edit")
                area.clear()
                area.send_keys('{"color": "green"')  # not valid JSON: refused
                driver.find_element(By.ID, "save").click()
                until_text("#edit-error", "not valid JSON")
                assert zk.get("/app/config")[0] == b'{"color": "blue", "size": 3}'
                area.send_keys("}")
                driver.find_element(By.ID, "save").click()
                until_text("#node-status", "saved: version 1")
                data, stat = zk.get("/app/config")
                assert data == b'{"color": "green"}', data
                assert stat.version == 1
            checks.run("edit-data", edit_data)

            def watch_update():
                wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-watch") == "ready")
                zk.set("/app/config", b'{"color": "red"}')
                until_text("#data-view", '"red"')
                until_text("#node-status", "NodeDataChanged")
                shot("watch")
            checks.run("watch-update", watch_update)

            def history_restore():
                # The transaction log holds the earlier values; restoring one is a setData.
                driver.find_element(By.ID, "history-load").click()
                until_text("#history", "create")
                rows = driver.find_elements(By.CSS_SELECTOR, "#history tbody tr")
                assert len(rows) == 3, [r.text for r in rows]  # create, the console's edit, kazoo's set
                assert '"blue"' in rows[-1].text, rows[-1].text
                rows[-1].find_element(By.TAG_NAME, "button").click()
                until_text("#node-status", "restored")
                until_text("#data-view", '"blue"')
                data, stat = zk.get("/app/config")
                assert data == b'{"color": "blue", "size": 3}' and stat.version == 3, (data, stat)
                driver.find_element(By.CSS_SELECTOR, '#nav button[data-view="changes"]').click()
                until_text("#changes", "/app/items/item-4")
                shot("changes")
                driver.find_element(By.CSS_SELECTOR, '#nav button[data-view="tree"]').click()
            checks.run("history-and-restore", history_restore)

            def login_refused():
                box = driver.find_element(By.ID, "goto")
                box.clear()
                box.send_keys("/secret\n")
                until_text("#node-error", "NoAuth")
                driver.find_element(By.ID, "login-open").click()
                driver.find_element(By.ID, "login-user").send_keys("bob")
                driver.find_element(By.ID, "login-password").send_keys("wrong")
                driver.find_element(By.ID, "login-submit").click()
                until_text("#identity", "digest:bob")
                until_text("#node-error", "NoAuth")
                shot("refused")
                driver.find_element(By.ID, "logout").click()
                until_text("#identity", "anonymous")
                driver.find_element(By.ID, "login-open").click()
                driver.find_element(By.ID, "login-user").clear()
                driver.find_element(By.ID, "login-user").send_keys("bob")
                driver.find_element(By.ID, "login-password").send_keys("pw")
                driver.find_element(By.ID, "login-submit").click()
                until_text("#data-view", "bob's data")
                until_text("#acl", digest("bob:pw").split(":", 1)[1])
            checks.run("login-and-refusal", login_refused)

            def server_views():
                driver.find_element(By.CSS_SELECTOR, '#nav button[data-view="sessions"]').click()
                wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")) >= 2)
                assert not driver.find_element(By.ID, "view-tree").is_displayed(), "one view at a time"
                shot("sessions")
                driver.find_element(By.CSS_SELECTOR, '#nav button[data-view="largest"]').click()
                until_text("#largest", "/app/items/item-4")
                driver.find_element(By.CSS_SELECTOR, '#nav button[data-view="ensemble"]').click()
                until_text("#ensemble", "standalone")
                until_text("#ensemble-note", "standalone")
                driver.find_element(By.CSS_SELECTOR, '#nav button[data-view="charts"]').click()
                for i in range(30):  # some load for the charts
                    zk.set("/app/other", str(i).encode())
                time.sleep(5)
                shot("charts")
                driver.find_element(By.CSS_SELECTOR, '#nav button[data-view="tree"]').click()
            checks.run("server-views", server_views)

            def no_js_errors():
                errors = [e["message"] for e in driver.get_log("browser")
                          if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]
                assert not errors, errors
            checks.run("no-javascript-errors", no_js_errors)
        finally:
            driver.quit()
            zk.stop()
            zk.close()
            shutil.rmtree(profile, ignore_errors=True)
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
