"""The search page in a real browser: the system's headless Chromium driven by Selenium, one server
(in this process, the fake encoder) and one browser session per module. Typing shows the right first
card; the keyboard opens a term and goes back; the back button returns; a hostile entry is text and
runs nothing; with JavaScript off, the form and links still work. Skipped where there is no browser.
"""

from __future__ import annotations

import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT
from test_page import serving

sys.path.insert(0, str(ROOT))
from bench.browser import chrome, missing

pytestmark = [pytest.mark.slow, pytest.mark.skipif(missing() is not None, reason=str(missing()))]

WAIT = 20  # seconds: a safety limit on a loaded machine, not a measurement


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("page-browser")) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    driver = chrome()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def no_js_browser() -> Iterator[object]:
    driver = chrome(javascript=False)
    yield driver
    driver.quit()


def wait(driver, condition, message: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(lambda d: condition(d), message)


def css(driver, selector: str) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def first_card(driver) -> str:
    names = css(driver, ".card a.names")
    return names[0].text if names else ""


def errors(driver) -> list[str]:
    """What the page wrote to the console as errors (a CSP refusal, an exception)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def path_of(driver) -> str:
    split = urllib.parse.urlsplit(driver.current_url)
    return urllib.parse.unquote(split.path) + (f"?{urllib.parse.unquote_plus(split.query)}" if split.query else "")


def test_typing_shows_the_right_first_card_and_the_url_follows(browser, site: str) -> None:
    from selenium.webdriver.common.keys import Keys

    browser.get(site + "/")
    box = css(browser, "#q")[0]
    box.send_keys("dropout")
    wait(browser, lambda d: first_card(d) == "ドロップアウト | Dropout", "the first card")
    wait(browser, lambda d: path_of(d) == "/?q=dropout", "the URL carries the question")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("過学習")
    wait(browser, lambda d: first_card(d) == "過学習 | Overfitting", "the new question's first card")
    assert css(browser, ".state .badge")[0].text in ("sure", "possible", "no match")
    assert errors(browser) == []


def test_stale_answers_never_overwrite_newer_ones(browser, site: str) -> None:
    """Many questions typed fast: what stays is the last question's answer."""
    browser.get(site + "/")
    box = css(browser, "#q")[0]
    for text in ("learning rate", "dropout", "勾配消失", "overfitting"):
        box.clear()
        box.send_keys(text)
    wait(browser, lambda d: path_of(d) == "/?q=overfitting", "the last question in the URL")
    wait(browser, lambda d: first_card(d) == "過学習 | Overfitting", "the last question's answer")
    threading.Event().wait(0.5)  # any late answer would land by now
    assert first_card(browser) == "過学習 | Overfitting"


# The page's fetch made slow for one question, and deaf to its abort: that answer arrives after a
# newer question's, and must not replace it.
SLOW_FETCH = """
var original = window.fetch;
window.fetch = function (url, options) {
  var slow = String(url).indexOf("dropout") >= 0;
  var opened = Object.assign({}, options || {}, { signal: undefined });
  return original(url, opened).then(function (response) {
    return new Promise(function (resolve) { setTimeout(function () { resolve(response); }, slow ? 1500 : 0); });
  });
};
"""


def test_a_late_answer_to_an_older_question_is_dropped(browser, site: str) -> None:
    browser.get(site + "/")
    browser.execute_script(SLOW_FETCH)
    box = css(browser, "#q")[0]
    box.send_keys("dropout")
    threading.Event().wait(0.4)  # its request is under way (the debounce is 120 ms)
    box.clear()
    box.send_keys("overfitting")
    wait(browser, lambda d: first_card(d) == "過学習 | Overfitting", "the newer question's answer")
    threading.Event().wait(1.8)  # the older answer has arrived by now
    assert first_card(browser) == "過学習 | Overfitting"
    assert path_of(browser) == "/?q=overfitting"


def test_enter_while_an_answer_is_on_its_way_opens_that_answers_first_card(browser, site: str) -> None:
    """Enter pressed after the question was sent but before its answer came opens the new answer's
    first card, not the one of the answer still shown (the previous question's)."""
    from selenium.webdriver.common.keys import Keys

    browser.get(site + "/?q=" + urllib.parse.quote("learning rate"))
    wait(browser, lambda d: first_card(d) == "学習率 | Learning Rate", "server-rendered cards")
    browser.execute_script(SLOW_FETCH)
    box = css(browser, "#q")[0]
    box.clear()
    box.send_keys("dropout")
    threading.Event().wait(0.4)  # its request is under way (the debounce is 120 ms), its answer 1.5 s off
    box.send_keys(Keys.ENTER)
    wait(browser, lambda d: path_of(d).startswith("/term/"), "a term's URL")
    wait(browser, lambda d: css(d, ".term h1"), "the term view")
    assert css(browser, ".term h1")[0].text == "ドロップアウト | Dropout"


def test_a_question_too_long_for_a_url_says_so(browser, site: str) -> None:
    """A pasted text longer than a request line may be (64 kB) is refused before it reaches the page
    (414, not a page): the page says so instead of keeping the previous answer as if it were this one's."""
    browser.get(site + "/?q=dropout")
    wait(browser, lambda d: first_card(d) != "", "server-rendered cards")
    box = css(browser, "#q")[0]
    browser.execute_script(
        "arguments[0].value = '勾配'.repeat(6000); arguments[0].dispatchEvent(new Event('input'));", box
    )
    wait(browser, lambda d: css(d, "main .message.error"), "a message")
    assert "414" in css(browser, "main .message.error")[0].text and first_card(browser) == ""
    assert all("414" in error for error in errors(browser))  # the refused request, and nothing else


def test_the_keyboard_opens_a_term_and_escape_and_back_return(browser, site: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.get(site + "/?q=" + urllib.parse.quote("勾配"))
    wait(browser, lambda d: first_card(d) != "", "server-rendered cards")
    css(browser, "body")[0].click()
    ActionChains(browser).send_keys("/").perform()
    assert browser.switch_to.active_element == css(browser, "#q")[0]
    ActionChains(browser).send_keys(Keys.ARROW_DOWN, Keys.ARROW_DOWN).perform()
    selected = css(browser, ".card.selected a.names")
    assert len(selected) == 1 and selected[0] == css(browser, ".card a.names")[1]
    second = selected[0].text
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    wait(browser, lambda d: path_of(d).startswith("/term/"), "the term's URL")
    wait(browser, lambda d: [h.text for h in css(d, ".term h1")] == [second], "the term view")
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    wait(browser, lambda d: path_of(d) == "/?q=勾配" and first_card(d) != "", "back to the results")
    # The browser's own back and forward buttons.
    css(browser, ".card a.names")[0].click()
    wait(browser, lambda d: css(d, ".term h1"), "the term view")
    browser.back()
    wait(browser, lambda d: path_of(d) == "/?q=勾配" and css(d, ".card"), "back to the results")
    assert css(browser, "#q")[0].get_attribute("value") == "勾配"
    browser.forward()
    wait(browser, lambda d: css(d, ".term h1"), "forward to the term view")
    assert errors(browser) == []


def test_a_hostile_entry_is_text_and_runs_nothing(browser, site: str) -> None:
    browser.get(site + "/term/Hostile%20Entry")
    wait(browser, lambda d: css(d, ".term h1"), "the term view")
    assert css(browser, ".term h1")[0].text == "<script>alert('name')</script> | Hostile Entry"
    assert "<img src=x onerror=\"alert('img')\"> stay text." in css(browser, ".term .body")[0].text
    assert css(browser, ".term script, .term img") == []
    hrefs = [a.get_attribute("href") for a in css(browser, ".term a")]
    assert all(h.startswith(("http://127.0.0.1", "https://example.com")) for h in hrefs), hrefs
    css(browser, ".link-off")[0].click()  # a javascript: link is text: clicking it does nothing
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    # The same, arrived at by typing (the page swaps in the server's HTML).
    browser.get(site + "/")
    css(browser, "#q")[0].send_keys("Hostile Entry")
    wait(browser, lambda d: "Hostile Entry" in first_card(d), "the hostile card")
    assert first_card(browser).startswith("<script>")
    assert css(browser, "main script, main img") == []


def test_without_javascript_the_form_and_links_still_work(no_js_browser, site: str) -> None:
    from selenium.webdriver.common.keys import Keys

    driver = no_js_browser
    driver.get(site + "/")
    box = css(driver, "#q")[0]
    box.send_keys("dropout", Keys.ENTER)  # a form GET
    wait(driver, lambda d: path_of(d) == "/?q=dropout", "the form's URL")
    assert first_card(driver) == "ドロップアウト | Dropout"
    css(driver, ".card a.names")[0].click()
    wait(driver, lambda d: css(d, ".term h1"), "the term page")
    assert css(driver, ".term h1")[0].text == "ドロップアウト | Dropout"
    driver.back()
    wait(driver, lambda d: first_card(d) == "ドロップアウト | Dropout", "back to the results")


def test_the_page_fits_a_phone(browser, site: str) -> None:
    browser.set_window_size(375, 800)
    try:
        browser.get(site + "/?q=" + urllib.parse.quote("勾配消失問題とは何か"))
        wait(browser, lambda d: first_card(d) != "", "cards")
        width = browser.execute_script("return document.documentElement.scrollWidth")
        inner = browser.execute_script("return window.innerWidth")
        assert width <= inner
    finally:
        browser.set_window_size(900, 900)


def test_screenshot_script_writes_the_picture(site: str, tmp_path: Path) -> None:
    """docs/make_screenshot.py (which made docs/page.png) runs and writes a PNG of the answer."""
    import subprocess

    out = tmp_path / "page.png"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "docs" / "make_screenshot.py"),
            "--url",
            site,
            "--question",
            "dropout",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_browser_starts_under_a_deep_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, site: str
) -> None:
    """Chromium's socket lives under $TMPDIR and a socket's path holds 107 bytes: under a deep
    $TMPDIR (a pytest-xdist worker's tmp_path, the bench's scratch folder) it used to exit at start."""
    import tempfile

    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(deep))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read $TMPDIR again
    driver = chrome()
    try:
        driver.get(site + "/?q=" + urllib.parse.quote("過学習"))
        assert "過学習" in driver.page_source
    finally:
        driver.quit()
