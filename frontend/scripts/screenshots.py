"""Screenshots of the web app for the README: docs/screenshots/{upload,progress,mixer,analysis,
mixer-phone}.png.

Starts `stemdeck serve` (the bundled default model) in a temporary folder, drops a real song
on the page in Debian's Chromium and photographs each view. Needs a built frontend
(scripts/build-frontend) and /usr/bin/chromium.

    .venv/bin/python frontend/scripts/screenshots.py [SONG] [--out docs/screenshots]

SONG defaults to the real 4-stem excerpt in ../shared/audio (MUSDB18 "Music Delta - 80s
Rock"), else a generated song.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.api_env import song_file  # noqa: E402
from tests.frontend_env import DESKTOP, PHONE, chromium, drop_files, serve, skip_reason  # noqa: E402

#: The upload and progress views are short: their screenshots stop below the content.
CLIP = {"x": 0, "y": 0, "width": DESKTOP["width"], "height": 620}
DEFAULT_SONG = (
    ROOT.parent / "shared/audio/musdb18hq-sample/train/Music Delta - 80s Rock/mixture.wav"
)


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `check()` every 50 ms until it is true."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {seconds} s for {what}")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("song", nargs="?", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    reason = skip_reason()
    if reason:
        sys.exit(f"cannot take screenshots: {reason}")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stemdeck-shots-") as scratch:
        folder = Path(scratch)
        source = args.song or (DEFAULT_SONG if DEFAULT_SONG.is_file() else None)
        if source is None:
            song = song_file(folder / "Generated Song.wav", seconds=8.0)
        else:  # the MUSDB excerpt is called mixture.wav: give it its title
            name = "Music Delta - 80s Rock.wav" if source == DEFAULT_SONG else source.name
            song = folder / name
            shutil.copy(source, song)
        with serve(folder / "stack") as stack, chromium() as browser:
            context = browser.new_context(viewport=DESKTOP, device_scale_factor=1)
            page = context.new_page()
            page.goto(stack.url + "/#/")
            drop_files(page, [song])
            page.wait_for_url("**/#/jobs/*", timeout=60_000)

            def separating() -> bool:
                text = page.locator(".stage[data-stage=separate] .stage-status").text_content()
                return text is not None and text.endswith("%") and 20 <= int(text[:-1]) < 100

            def shown(selector: str) -> int:
                return page.locator(selector).count()

            wait_until(
                lambda: separating() or shown(".strip, .error") > 0,
                600,
                "the separation to be under way",
            )
            page.screenshot(path=args.out / "progress.png", clip=CLIP)
            wait_until(lambda: shown(".strip") >= 4 or shown(".error") > 0, 600, "the mixer")
            if shown(".error"):
                sys.exit(f"the page shows an error: {page.locator('.error').all_text_contents()}")
            time.sleep(1.0)
            # a loop region over the middle, playing, with the vocals a little down
            lane = page.locator(".strip[data-stem=drums] .lane")
            box = lane.bounding_box()
            y = box["y"] + box["height"] / 2
            page.mouse.move(box["x"] + box["width"] * 0.35, y)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
            page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=5)
            page.mouse.up()
            page.get_by_label("Vocals volume (dB)").fill("-4.5")
            page.get_by_test_id("play").click()
            time.sleep(1.6)
            page.locator("#mixer-title").scroll_into_view_if_needed()
            page.evaluate("() => window.scrollTo(0, 0)")
            page.screenshot(path=args.out / "mixer.png")
            page.get_by_role("button", name="Pause").click()
            page.get_by_test_id("analysis").screenshot(path=args.out / "analysis.png")
            page.set_viewport_size(PHONE)
            time.sleep(0.5)
            page.evaluate("() => window.scrollTo(0, 0)")
            page.screenshot(path=args.out / "mixer-phone.png")
            page.set_viewport_size(DESKTOP)
            page.goto(stack.url + "/#/")
            page.get_by_text("Options").click()
            page.locator(".recent-item .pill").first.wait_for()
            time.sleep(0.5)
            page.screenshot(path=args.out / "upload.png", clip=CLIP)
            context.close()
    for name in ("upload", "progress", "mixer", "analysis", "mixer-phone"):
        print(args.out / f"{name}.png")


if __name__ == "__main__":
    main()
