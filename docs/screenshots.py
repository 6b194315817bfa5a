"""Screenshots of a training report in headless Chromium (JavaScript off), as committed in docs/ for the README.

    python docs/screenshots.py out/tutorial/report.html     # after `make tutorial`
"""

import shutil
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

WIDTHS = {"desktop": 1280, "phone": 390}


def main(report: str, out: Path = Path(__file__).parent) -> None:
    browser_path = shutil.which("chromium") or sys.exit("no chromium on PATH: apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        for name, width in WIDTHS.items():
            page = browser.new_context(java_script_enabled=False, offline=True,
                                       viewport={"width": width, "height": 900}).new_page()
            page.goto(Path(report).resolve().as_uri(), wait_until="load")
            path = out / f"report-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            with Image.open(path) as shot:  # 256 colours: a third of the bytes, no visible change for these pages
                shot.convert("RGB").quantize(256).save(path, optimize=True)
            print(path, path.stat().st_size // 1024, "KiB")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1])
