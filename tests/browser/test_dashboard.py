"""The dashboard in a real headless Chromium, through Envoy, against a real `nija up`: sign up,
log in, the overview, live trades and positions pushed over the WebSocket without a reload,
bot controls, phone width, an expired session and the API going down. Screenshots land in
tests/artifacts/browser/ (git-ignored)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from browser.conftest import ARTIFACTS
from helpers import http

PASSWORD = "correct horse battery staple"


def _nats_url(nija) -> str:
    return next(line.split()[1] for line in nija.output if line.strip().startswith("NATS "))


def _publish(nija, subject: str, payload: dict) -> None:
    async def go():
        import nats

        nc = await nats.connect(_nats_url(nija))
        await nc.jetstream().publish(subject, json.dumps(payload).encode())
        await nc.drain()

    asyncio.run(go())


def _wait(driver, timeout: float = 20) -> WebDriverWait:
    # Preact re-renders rows as live events arrive: an element found a moment ago may be gone.
    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,))


def _el(driver, testid: str, timeout: float = 20):
    return _wait(driver, timeout).until(EC.visibility_of_element_located((By.CSS_SELECTOR, f'[data-testid="{testid}"]')))


def _fill(driver, form: str, email: str, password: str) -> None:
    root = _el(driver, form)
    root.find_element(By.NAME, "email").send_keys(email)
    root.find_element(By.NAME, "password").send_keys(password)
    root.find_element(By.CSS_SELECTOR, '[data-testid="submit"]').click()


def test_admin_pages(nija_browser_stack, browser):
    """Runs first (the end-to-end test stops the platform at its end)."""
    from e2e.conftest import NIJA
    import subprocess

    nija, driver = nija_browser_stack, browser
    wait = _wait(driver)
    admin_email = f"admin-{uuid.uuid4().hex[:10]}@example.com"
    subprocess.run(
        [NIJA, "admin", "create", "--email", admin_email, "--password-stdin", "--data-dir", str(nija.data_dir)],
        input=PASSWORD + "\n", text=True, check=True, capture_output=True, timeout=60,
    )
    someone = f"someone-{uuid.uuid4().hex[:10]}@example.com"
    http("POST", f"{nija.base}/api/v1/auth/register", {"email": someone, "password": PASSWORD})

    driver.get(f"{nija.base}/")
    _fill(driver, "login-form", admin_email, PASSWORD)
    _el(driver, "nav-/admin").click()
    wait.until(lambda d: _el(d, "m-users").find_element(By.CLASS_NAME, "value").text.isdigit())
    _el(driver, "ks-reason").send_keys("browser test")
    driver.execute_script("window.confirm = () => true")
    _el(driver, "ks-on").click()
    wait.until(lambda d: "ON" in _el(d, "ks-state").text)
    _el(driver, "ks-off").click()
    wait.until(lambda d: "off" in _el(d, "ks-state").text)
    driver.save_screenshot(str(ARTIFACTS / "admin-platform.png"))

    _el(driver, "nav-/admin/users").click()
    _el(driver, "user-search").send_keys(someone.split("@")[0])
    _el(driver, "user-search").submit()
    wait.until(lambda d: [r.text.split()[0] for r in d.find_elements(By.CSS_SELECTOR, '[data-testid="user-row"]')] == [someone])
    driver.find_element(By.CSS_SELECTOR, '[data-testid="user-row"] a').click()  # the user's picture
    _el(driver, "user-detail")
    Select(_el(driver, "plan-override")).select_by_value("enterprise")
    wait.until(lambda d: _el(d, "user-plan").text == "enterprise")
    driver.find_element(By.CSS_SELECTOR, '[data-testid="user-row"] button').click()  # Disable
    wait.until(lambda d: "disabled" in d.find_element(By.CSS_SELECTOR, '[data-testid="user-row"]').text)
    status, _, _ = http("POST", f"{nija.base}/api/v1/auth/login", {"email": someone, "password": PASSWORD})
    assert status == 401

    _el(driver, "nav-/admin/audit").click()
    table = _el(driver, "audit-table")
    wait.until(lambda d: "admin.users.update" in table.text)
    driver.save_screenshot(str(ARTIFACTS / "admin-audit.png"))
    _el(driver, "logout").click()
    _el(driver, "login-form")


def test_dashboard_end_to_end(nija_browser_stack, browser):
    nija, driver = nija_browser_stack, browser
    wait = _wait(driver)
    email = f"browser-{uuid.uuid4().hex[:10]}@example.com"

    # --- sign up, then log out and log in again
    driver.get(f"{nija.base}/")
    _el(driver, "login-form")
    _el(driver, "to-signup").click()
    _fill(driver, "signup-form", email, PASSWORD)
    wait.until(lambda d: _el(d, "who").text == email)
    _el(driver, "logout").click()
    _fill(driver, "login-form", email, "wrong password here")
    assert "wrong email or password" in _el(driver, "auth-error").text
    driver.find_element(By.NAME, "password").clear()
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, '[data-testid="submit"]').click()
    wait.until(lambda d: _el(d, "who").text == email)
    _, _, tokens = http("POST", f"{nija.base}/api/v1/auth/login", {"email": email, "password": PASSWORD})
    user_id = http("GET", f"{nija.base}/api/v1/auth/me", token=tokens["access_token"])[2]["id"]

    # --- bots: start a paper bot from the page; its first fill appears live, without a reload
    _el(driver, "nav-/bots").click()
    _el(driver, "no-trades")
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-testid="live-state"]').text == "● live")
    driver.execute_script("window.__marker = 42")  # a reload would lose it
    Select(_el(driver, "strategy")).select_by_value("macd_trend")
    markets = _el(driver, "markets")
    markets.clear()
    markets.send_keys("ETH/BTC")
    _el(driver, "start").click()
    wait.until(lambda d: "running" in [e.text for e in d.find_elements(By.CSS_SELECTOR, '[data-testid="bot-state"]')])
    _wait(driver, 45).until(
        lambda d: any("ETH/BTC" in r.text for r in d.find_elements(By.CSS_SELECTOR, '[data-testid="trade-row"]'))
    )
    assert driver.execute_script("return window.__marker") == 42

    # --- overview: every card shows a real value or says plainly that it is not available
    _el(driver, "nav-/").click()
    def card_value(d, card):
        return d.find_element(By.CSS_SELECTOR, f'[data-testid="{card}"] .value').text

    for card in ("card-balance", "card-pnl", "card-winrate", "card-active"):
        wait.until(lambda d: card_value(d, card) not in ("…", ""))
        assert card_value(driver, card) != "error", card
    _el(driver, "trade-row")
    driver.save_screenshot(str(ARTIFACTS / "overview.png"))

    # --- positions page: a live P&L update arrives over the WebSocket, again without a reload
    _el(driver, "nav-/positions").click()
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-testid="live-state"]').text == "● live")
    def btc_rows(d):
        # Read every row's text in one script: a re-render between finding a row and reading it
        # (a StaleElementReferenceException outside a wait) cannot happen.
        texts = d.execute_script(
            'return [...document.querySelectorAll(\'[data-testid="position-row"]\')].map(r => r.innerText)')
        return [t for t in texts if "BTC/USDT" in t]

    for mark, pnl in (("64300", "12.34"), ("64500", "56.78")):
        _publish(nija, f"nija.user.{user_id}.positions", {
            "symbol": "BTC/USDT", "quantity": "0.0015", "entry_price": "64250.5", "mark_price": mark,
            "unrealized_pnl": pnl, "realized_pnl": "0", "bot_id": "b1",
        })
        wait.until(lambda d: len(btc_rows(d)) == 1 and pnl in btc_rows(d)[0])
    assert "64,500" in btc_rows(driver)[0]
    assert driver.execute_script("return window.__marker") == 42
    driver.save_screenshot(str(ARTIFACTS / "positions.png"))

    # --- emergency stop: no bot keeps running
    _el(driver, "nav-/bots").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="bot-state"]'))
    driver.execute_script("window.confirm = () => true")
    _el(driver, "emergency-stop").click()
    wait.until(lambda d: all(e.text.split("\n")[0] != "running" for e in d.find_elements(By.CSS_SELECTOR, '[data-testid="bot-state"]')))
    status, _, bots = http("GET", f"{nija.base}/api/v1/trading/status", token=tokens["access_token"])
    assert status == 200 and bots["bots"] and all(b["state"] != "running" for b in bots["bots"])
    driver.save_screenshot(str(ARTIFACTS / "bots.png"))

    # --- settings: risk limits saved through the API
    _el(driver, "nav-/settings").click()
    form = _el(driver, "settings-form")
    Select(form.find_element(By.TAG_NAME, "select")).select_by_visible_text("low")
    form.find_element(By.TAG_NAME, "button").click()
    _el(driver, "saved")
    _, _, saved = http("GET", f"{nija.base}/api/v1/config/settings", token=tokens["access_token"])
    assert saved["risk_level"] == "low"

    # --- a notification pops up on whatever page is open
    _publish(nija, f"nija.user.{user_id}.notifications", {"text": "Bot stopped by emergency stop"})
    assert "emergency stop" in _el(driver, "notification").text

    # --- phone width: the same pages, the menu folds away
    driver.set_window_size(390, 844)
    driver.get(f"{nija.base}/#/")
    _el(driver, "card-balance")
    assert not driver.find_element(By.CSS_SELECTOR, '[data-testid="nav-/bots"]').is_displayed()
    driver.find_element(By.CLASS_NAME, "menu").click()
    assert _el(driver, "nav-/bots").is_displayed()
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
    driver.save_screenshot(str(ARTIFACTS / "overview-phone.png"))
    driver.set_window_size(1280, 900)

    # --- an expired session goes back to the login page with a notice
    driver.execute_script(
        "localStorage.setItem('nija.session', JSON.stringify({access_token: 'expired.token.x', refresh_token: 'gone'}))"
    )
    driver.refresh()
    assert "expired" in _el(driver, "session-expired").text
    _el(driver, "login-form")

    # --- the API going down shows a banner
    _fill(driver, "login-form", email, PASSWORD)
    _el(driver, "who")
    nija.stop()
    _el(driver, "nav-/trades").click()
    assert "cannot be reached" in _el(driver, "api-down").text
    driver.save_screenshot(str(ARTIFACTS / "api-down.png"))
