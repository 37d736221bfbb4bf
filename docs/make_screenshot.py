"""Make docs/page.png, the picture of the search page in README.md and docs/server.md.

    python docs/make_screenshot.py                      # the bundled glossary, served here
    python docs/make_screenshot.py --url http://127.0.0.1:8765 --question 'dropout'

Without --url it builds an index of the bundled glossary in a temporary folder (the embedded encoder),
serves it in this process on a free port, types the question into the page in headless Chromium
(bench/browser.py: the system's chromium and chromedriver), waits for the cards and saves the window.
Japanese needs a font that has its glyphs (Debian: fonts-noto-cjk), or it comes out as boxes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.browser import chrome, missing  # noqa: E402

QUESTION = "勾配消失とは"


def shoot(url: str, question: str, out: Path, width: int, height: int) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chrome(width=width, height=height)
    try:
        driver.get(url + "/")
        driver.find_element(By.ID, "q").send_keys(question)
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".card a.names"))
        time.sleep(0.3)  # fonts settle
        driver.execute_script("document.activeElement.blur()")
        out.write_bytes(driver.get_screenshot_as_png())
    finally:
        driver.quit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--url", help="a running semsearch serve (default: serve the bundled glossary here)")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "page.png")
    parser.add_argument("--width", type=int, default=880)
    parser.add_argument("--height", type=int, default=760)
    args = parser.parse_args(argv)
    why = missing()
    if why:
        print(f"make_screenshot: {why}", file=sys.stderr)
        return 2
    if args.url:
        shoot(args.url.rstrip("/"), args.question, args.out, args.width, args.height)
    else:
        import semsearch
        from semsearch.serve.http import make_server, serve
        from semsearch.serve.resident import Resident

        with tempfile.TemporaryDirectory() as work:
            semsearch.build(ROOT / "corpus", Path(work) / "index")
            server = make_server("127.0.0.1", 0, Resident(semsearch.load(Path(work) / "index"), poll=0))
            thread = threading.Thread(target=serve, args=(server,), daemon=True)
            thread.start()
            try:
                shoot(f"http://127.0.0.1:{server.server_address[1]}", args.question, args.out, args.width, args.height)
            finally:
                server.shutdown()
                thread.join(30)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
