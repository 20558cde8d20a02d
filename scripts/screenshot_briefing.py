"""Screenshot the briefing's first page in headless Chromium (docs/briefing-page1.png), and count pages.

    python scripts/screenshot_briefing.py [--out docs/briefing-page1.png] [--for QAT] [--no-scenarios]

Writes the briefing on the bundled atlas to a temporary folder, prints it to PDF with Chromium's
print layout (A4) to count its pages, and takes a PNG of the first A4-proportioned screen page
(1240 x 1754 px, the screen layout: header, summary and the ten most dangerous dependencies). Needs
``chromium`` on the PATH (Debian: ``apt-get install chromium``). Exit code 1 when the printed
briefing has 15 pages or more.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_PAGES = 15
A4_PX = (1240, 1754)  # 210 x 297 mm at 150 dpi


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("chromium not found: apt-get install chromium")


def run_chromium(*args: str) -> None:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-pdf-header-footer", *args]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180)


def pdf_pages(pdf: Path) -> int:
    """Pages of a PDF written by Chromium (counts ``/Type /Page`` objects)."""
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf.read_bytes()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "briefing-page1.png")
    ap.add_argument("--for", dest="for_iso3", default=None)
    ap.add_argument("--no-scenarios", action="store_true")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from rich.console import Console

    from paxsilica.atlas import bundled_atlas
    from paxsilica.cli.brief import brief

    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "brief.html"
        brief(bundled_atlas(), args.for_iso3, out=html, console=Console(quiet=True),
              scenarios=not args.no_scenarios)
        pdf = Path(tmp) / "brief.pdf"
        run_chromium(f"--print-to-pdf={pdf}", html.as_uri())
        pages = pdf_pages(pdf)
        # the screen layout in an A4-proportioned window: its top is the briefing's page one
        shot = Path(tmp) / "page1.png"
        run_chromium(f"--screenshot={shot}", f"--window-size={A4_PX[0]},{A4_PX[1]}",
                     "--force-device-scale-factor=1", html.as_uri())
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, args.out)
    print(f"{args.out}: first page; the printed briefing has {pages} A4 pages (limit {MAX_PAGES - 1})")
    return 0 if pages < MAX_PAGES else 1


if __name__ == "__main__":
    raise SystemExit(main())
