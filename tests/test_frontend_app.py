"""The web app in Debian's Chromium against the running embedded stack (`stemdeck serve`).

One server and one browser serve the whole module: a generated 3 s song is dropped on the
page once, its progress is watched to the end, and the mixer tests then work on that job.
Exports are downloaded and decoded, and compared with the same mix rendered in Python from
the server's stems through `stemdeck.eq.filters` — what the page plays is what it exports,
and its EQ is the Python EQ.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile

from stemdeck.common.audio import write_audio
from stemdeck.common.stages import STAGES
from stemdeck.eq.filters import (
    BANDS,
    apply_eq,
    band_coefficients,
    band_definition,
    biquad_response,
)
from tests.api_env import song_file, tagged_song
from tests.conftest import make_song
from tests.frontend_env import (
    DESKTOP,
    PHONE,
    Stack,
    chromium,
    drop_files,
    require_browser,
    serve,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
RATE = 44100
SONG_SECONDS = 3.0
STEMS = ["drums", "bass", "other", "vocals"]
FADER_MIN_DB = -60.0


@dataclass
class SongJob:
    """The job made by dropping the song, and what the page showed on the way."""

    id: str
    song: Path
    percents: list[int] = field(default_factory=list)
    stage_names: list[str] = field(default_factory=list)
    upload_texts: list[str] = field(default_factory=list)
    seconds: float = 0.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`stemdeck serve` with its workers and the built web app, for this module."""
    require_browser()
    with serve(tmp_path_factory.mktemp("frontend-stack")) as running:
        yield running


@pytest.fixture(scope="module")
def page(stack: Stack, tiny_model_path: Path) -> Iterator[Any]:
    """One Chromium page at desktop size; the upload form picks the tiny test model, installed
    in the server's model cache as `tiny` (the picker offers installed models only)."""
    cache = stack.data.parent / "model-cache"  # frontend_env.serve's STEMDECK_MODEL_DIR
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tiny_model_path, cache / "tiny.pt")
    options = json.dumps({"model": "tiny"})
    with chromium() as browser:
        context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
        context.add_init_script(
            f"if (!localStorage.getItem('stemdeck.options')) "
            f"localStorage.setItem('stemdeck.options', {json.dumps(options)});"
        )
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(stack.url + "/")
        yield tab
        context.close()
        assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture(scope="module")
def song_job(page: Any, stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> SongJob:
    """Drop a 3 s song on the start page and follow it until the mixer shows its stems."""
    song = song_file(tmp_path_factory.mktemp("songs") / "Frontend Song.wav", SONG_SECONDS)
    page.goto(stack.url + "/#/")
    started = time.monotonic()
    drop_files(page, [song])
    upload_texts = []
    deadline = time.monotonic() + 30
    while "#/jobs/" not in page.url:
        text = page.evaluate(
            "() => document.querySelector('[data-testid=upload-status]')?.textContent ?? ''"
        )
        if text and (not upload_texts or upload_texts[-1] != text):
            upload_texts.append(text)
        assert time.monotonic() < deadline, f"no job page; the page says: {text!r}"
        time.sleep(0.02)
    job = SongJob(page.url.rsplit("/", 1)[-1], song, upload_texts=upload_texts)
    page.get_by_test_id("job-progress").wait_for()
    job.stage_names = page.locator(".stage-name").all_text_contents()
    deadline = time.monotonic() + 180
    while page.locator("[data-testid=mixer] .strip").count() < 4:
        text = page.get_by_test_id("job-percent").text_content() or ""
        if text.endswith("%"):
            job.percents.append(int(text[:-1]))
        if time.monotonic() > deadline:
            raise AssertionError(f"no mixer after 180 s at {text}\n{stack.log_tail()}")
        time.sleep(0.1)
    job.percents.append(int(page.get_by_test_id("job-percent").text_content()[:-1]))
    job.seconds = time.monotonic() - started
    return job


def stems_from_server(stack: Stack, job_id: str) -> dict[str, np.ndarray]:
    """The job's stems as (channels, frames) float64, straight from the API."""
    out = {}
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        for name in STEMS:
            answer = client.get(f"/v1/jobs/{job_id}/stems/{name}")
            assert answer.status_code == 200, answer.text
            path = Path(stack.data) / f"check-{job_id}-{name}.wav"
            path.write_bytes(answer.content)
            audio, rate = soundfile.read(path, dtype="float64", always_2d=True)
            assert rate == RATE
            out[name] = audio.T
    return out


def reference_mix(stems: dict[str, np.ndarray], state: dict[str, Any]) -> np.ndarray:
    """The page's mix state rendered in Python: each stem through the shared EQ definition,
    its fader, mute/solo, summed, then the master, clipped at full scale as the export is (the
    recommended EQ can push a loud song's mix over 0 dBFS; the page reports those samples)."""

    def gain(db: float) -> float:
        return 0.0 if db <= FADER_MIN_DB else 10 ** (db / 20)

    strips = state["strips"]
    soloing = any(strip["soloed"] for strip in strips)
    total = np.zeros_like(next(iter(stems.values())))
    for strip in strips:
        if strip["muted"] or (soloing and not strip["soloed"]):
            continue
        eq = {band.name: strip["eq"][band.name] for band in BANDS}
        total += gain(strip["volumeDb"]) * apply_eq(stems[strip["name"]], RATE, eq)
    return np.clip(total * gain(state["masterDb"]), -1.0, 1.0)


def mixer_state(page: Any) -> dict[str, Any]:
    return page.evaluate("() => window.__stemdeck.mixer().info().state")


def export(page: Any, test_id: str, folder: Path) -> np.ndarray:
    """Click an export button, save the download, and decode it to (channels, frames)."""
    with page.expect_download(timeout=60_000) as info:
        page.get_by_test_id(test_id).click()
    download = info.value
    path = folder / download.suggested_filename
    download.save_as(path)
    audio, rate = soundfile.read(path, dtype="float64", always_2d=True)
    assert rate == RATE
    return audio.T


def energy(audio: np.ndarray) -> float:
    return float(np.sum(audio**2))


def error_db(actual: np.ndarray, expected: np.ndarray) -> float:
    """Level of the difference relative to the expected signal, in dB."""
    return 10 * np.log10(max(energy(actual - expected), 1e-30) / max(energy(expected), 1e-20))


def strip(page: Any, stem: str) -> Any:
    return page.locator(f".strip[data-stem={stem}]")


def reset_mix(page: Any) -> None:
    page.get_by_role("button", name="Reset every fader, mute, solo and EQ").click()


# ---- upload and progress -------------------------------------------------------------------


def test_dropping_a_song_shows_progress_until_done_and_four_stems(
    song_job: SongJob, page: Any
) -> None:
    """Byte progress, then stages with percentages and times, ending at 100 % with 4 stems."""
    assert any("Uploading" in text or "Uploaded" in text for text in song_job.upload_texts), (
        song_job.upload_texts
    )
    # the record's labels, in pipeline order: the page keeps no stage names of its own
    assert song_job.stage_names == [stage.label for stage in STAGES]
    assert song_job.percents[-1] == 100, song_job.percents
    assert song_job.percents == sorted(song_job.percents), "progress went backwards"
    assert page.get_by_test_id("job-status").text_content() == "Done"
    details = page.locator(".processing summary").text_content()
    assert details.startswith("Processing details · Done in"), details
    names = page.locator(".strip").evaluate_all("els => els.map(e => e.dataset.stem)")
    assert names == STEMS
    widths = page.locator(".strip canvas.wave").evaluate_all("els => els.map(e => e.width)")
    assert all(width > 100 for width in widths), widths
    # every stage row says how long it took
    details = page.locator(".stage-detail").all_text_contents()
    assert all(text.split(" ")[0].isdigit() for text in details[:3]), details


def test_genre_badge_shows_label_confidence_and_top_three_on_hover(
    song_job: SongJob, page: Any, stack: Stack
) -> None:
    record = httpx.get(f"{stack.url}/v1/jobs/{song_job.id}").json()
    genre = record["results"]["genre"]
    badge = page.locator(".job-head [data-testid=genre-badge]")
    label = genre["label"].capitalize()
    assert badge.locator(".genre-label").text_content() == label
    assert badge.locator(".genre-confidence").text_content() == (
        f"{round(genre['confidence'] * 100)}%"
    )
    tooltip = badge.locator(".tooltip")
    assert not tooltip.is_visible()
    badge.hover()
    tooltip.wait_for(state="visible")
    items = tooltip.locator("li").all_text_contents()
    assert [item.split(" ")[0] for item in items] == [
        g["label"].capitalize() for g in genre["top3"]
    ]


def test_genre_uncertainty_and_the_taggers_tags_as_chips(
    song_job: SongJob, page: Any, stack: Stack
) -> None:
    """`results.genre.uncertain` reads "Uncertain" on the badge; the tagger's likely tags
    (at least 10 %, at most six, best first) are chips in the analysis panel."""
    genre = httpx.get(f"{stack.url}/v1/jobs/{song_job.id}").json()["results"]["genre"]
    badge = page.locator(".job-head [data-testid=genre-badge]")
    assert ("Uncertain" in badge.text_content()) == bool(genre.get("uncertain"))
    expected = [t for t in genre.get("tags", []) if t["probability"] >= 0.1][:6]
    chips = page.get_by_test_id("analysis").locator("[data-testid=genre-tags] .chip")
    shown = chips.evaluate_all("els => els.map(e => e.firstChild.textContent)")
    assert shown == [t["tag"] for t in expected]
    values = chips.locator(".chip-value").all_text_contents()
    assert values == [f"{round(t['probability'] * 100)}%" for t in expected]


def test_analysis_panel_shows_units_and_the_energy_chart(
    song_job: SongJob, page: Any, stack: Stack
) -> None:
    analysis = httpx.get(f"{stack.url}/v1/jobs/{song_job.id}").json()["results"]["analysis"]
    panel = page.get_by_test_id("analysis")
    text = panel.text_content()
    assert f"{analysis['tempo_bpm']:.1f} BPM" in text
    assert analysis["key"] in text
    assert "LUFS" in text and "dBTP" in text
    for key in ("spectral_centroid_hz", "spectral_rolloff_hz"):
        value = analysis[key]
        shown = f"{value / 1000:.2f} kHz" if value >= 1000 else f"{round(value)} Hz"
        assert shown in text, (shown, text)
    assert f"{round(analysis['zero_crossings_per_s'])} /s" in text
    chart = panel.locator(".energy-chart")
    chart.wait_for()
    assert chart.locator(".energy-line").get_attribute("d").count("L") >= 2
    assert "dBFS" in chart.get_attribute("aria-label")


# ---- the mixer ---------------------------------------------------------------------------


def job_record(stack: Stack, job_id: str) -> dict[str, Any]:
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        answer = client.get(f"/v1/jobs/{job_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()


def test_the_mixer_opens_flat_with_the_recommendation_one_click_away(
    song_job: SongJob, page: Any, stack: Stack, tiny_model_path: Path, tmp_path: Path
) -> None:
    """A freshly opened mixer plays the uploaded song: every strip flat, at 0 dB, "Flat"
    pressed, the Auto-EQ's gains and dashed curve shown beside it; one click on "AI" applies
    the recommendation, and the export follows. A job separated with the soft mask (stems
    that add up to the input) is opened, so "the uploaded song" can be checked sample by
    sample; then the page goes back to the module's job."""
    song = tmp_path / "Flat Start.wav"
    write_audio(song, 0.5 * make_song(SONG_SECONDS, seed=3))  # headroom: no clipping
    with httpx.Client(base_url=stack.url, timeout=30) as client, song.open("rb") as handle:
        answer = client.post(
            "/v1/jobs",
            files={"file": (song.name, handle)},
            data={"model": str(tiny_model_path), "soft_mask": "true"},
        )
        assert answer.status_code == 201, answer.text
        job_id = answer.json()["id"]
    deadline = time.monotonic() + 180
    while (record := job_record(stack, job_id))["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, f"job not done after 180 s\n{stack.log_tail()}"
        time.sleep(0.5)
    assert record["status"] == "succeeded", record
    assert record["results"]["separation"]["soft_mask"] is True
    page.goto(f"{stack.url}/#/jobs/{job_id}")
    page.wait_for_function(
        f"() => window.__stemdeck?.mixer?.()?.info?.() != null && location.hash.endsWith("
        f"'{job_id}')",
        timeout=60_000,
    )
    try:
        info = page.evaluate("() => window.__stemdeck.mixer().info()")
        state = info["state"]
        assert state["masterDb"] == 0
        for entry in state["strips"]:
            assert entry["eq"] == {"low": 0, "mid": 0, "high": 0}, entry
            assert entry["volumeDb"] == 0 and not entry["muted"] and not entry["soloed"]
        recommended = record["results"]["eq"]
        assert [s["name"] for s in state["strips"]] == STEMS
        for stem, shown in zip(STEMS, info["recommended"], strict=True):
            label = stem.capitalize()
            lane = strip(page, stem)
            gains = recommended[stem]["gains_db"]
            assert shown == pytest.approx(gains, abs=1e-6)
            flat = lane.get_by_role("button", name=f"{label} EQ: flat")
            assert flat.get_attribute("aria-pressed") == "true"
            ai = lane.get_by_role("button", name=f"{label} EQ: use the AI recommendation")
            assert ai.is_enabled() and ai.get_attribute("aria-pressed") == "false"
            text = lane.get_by_test_id(f"ai-gains-{stem}").text_content()
            shown_db = {
                band: float(value.replace("\u2212", "-"))
                for band, value in re.findall(r"(low|mid|high) ([+\u2212-]?\d+\.\d)", text)
            }  # rounded to 0.1 dB by the page (JS rounds 5.25 up, Python's format to even)
            assert shown_db.keys() == {"low", "mid", "high"}, text
            for band, value in shown_db.items():
                assert abs(value - gains[band]) <= 0.05 + 1e-9, (text, gains)
            curve = lane.get_by_test_id(f"ai-curve-{stem}").get_attribute("d")
            heights = [float(point.split(",")[1]) for point in curve.split(" ")[1:]]
            assert len(heights) > 50
            assert (max(abs(h - 24) for h in heights) > 0.1) == any(
                abs(v) >= 0.1 for v in gains.values()
            )  # the dashed curve is the recommendation's: flat only when the gains are

        # the first playback is the uploaded song: the page renders the stems untouched, and
        # soft-masked stems add up to the input
        uploaded, rate = soundfile.read(song, dtype="float64", always_2d=True)
        assert rate == RATE
        stems = stems_from_server(stack, job_id)
        first = export(page, "export-mix", tmp_path)
        assert error_db(first, sum(stems.values())) < -80
        assert error_db(first, uploaded.T) < -50, error_db(first, uploaded.T)

        # one click applies the recommendation
        drums = strip(page, "drums")
        drums.get_by_role("button", name="Drums EQ: use the AI recommendation").click()
        applied = mixer_state(page)
        assert applied["strips"][0]["eq"] == pytest.approx(recommended["drums"]["gains_db"])
        pressed = drums.get_by_role("button", name="Drums EQ: use the AI recommendation")
        assert pressed.get_attribute("aria-pressed") == "true"
        assert all(s["eq"] == {"low": 0, "mid": 0, "high": 0} for s in applied["strips"][1:])
        with_ai = export(page, "export-mix", tmp_path)
        assert error_db(with_ai, reference_mix(stems, applied)) < -80
        reset_mix(page)
        assert all(s["eq"] == {"low": 0, "mid": 0, "high": 0} for s in mixer_state(page)["strips"])
    finally:  # the other tests work on the module's job
        page.goto(f"{stack.url}/#/jobs/{song_job.id}")
        page.wait_for_function(
            f"() => window.__stemdeck?.mixer?.()?.info?.() != null && location.hash.endsWith("
            f"'{song_job.id}')",
            timeout=60_000,
        )


def test_faders_and_eq_change_the_export_which_has_the_songs_length(
    song_job: SongJob, page: Any, stack: Stack, tmp_path: Path
) -> None:
    """Move faders and EQ, export the mix (16-bit), and find the Python render of that state."""
    reset_mix(page)
    strip(page, "vocals").get_by_label("Vocals volume (dB)").fill("-6")
    strip(page, "bass").get_by_label("Bass volume (dB)").fill("3.5")
    strip(page, "drums").locator("input[data-band=low]").fill("9")
    strip(page, "other").locator("input[data-band=high]").fill("-12")
    page.get_by_label("Master volume (dB)").fill("-3")
    page.get_by_label("16-bit").check()
    state = mixer_state(page)
    by_name = {s["name"]: s for s in state["strips"]}
    assert by_name["vocals"]["volumeDb"] == -6 and by_name["bass"]["volumeDb"] == 3.5
    assert by_name["drums"]["eq"]["low"] == 9 and by_name["other"]["eq"]["high"] == -12
    assert state["masterDb"] == -3
    assert strip(page, "drums").locator(".band-foot .value").first.text_content() == "+9.0 dB"

    mix = export(page, "export-mix", tmp_path)
    stems = stems_from_server(stack, song_job.id)
    frames = next(iter(stems.values())).shape[1]
    assert mix.shape == (2, frames)
    assert frames == round(SONG_SECONDS * RATE)
    expected = reference_mix(stems, state)
    assert error_db(mix, expected) < -55, error_db(mix, expected)  # 16-bit rounding: ~ -70
    status = page.get_by_test_id("export-status").text_content()
    assert "16-bit" in status and "Frontend Song - mix.wav" in status

    page.get_by_label("24-bit").check()
    mix24 = export(page, "export-mix", tmp_path)
    assert error_db(mix24, expected) < -80, error_db(mix24, expected)  # float32: ~ -98


def test_mute_and_solo_change_the_exported_audio(
    song_job: SongJob, page: Any, stack: Stack, tmp_path: Path
) -> None:
    """Energy checks: muting a stem removes exactly it; solo keeps only the soloed stem."""
    stems = stems_from_server(stack, song_job.id)
    reset_mix(page)
    # the mixer opens flat; the recommended EQ is applied to every stem so that the checks
    # cover the EQ too. Headroom: the recommended EQ can push the full mix past 0 dBFS, and a
    # clipped export would no longer be the sum of its stems
    for name in STEMS:
        button = strip(page, name).get_by_role(
            "button", name=f"{name.capitalize()} EQ: use the AI recommendation"
        )
        if button.is_enabled():
            button.click()
    page.get_by_label("Master volume (dB)").fill("-6")
    full_state = mixer_state(page)
    assert full_state["masterDb"] == -6
    full = export(page, "export-mix", tmp_path)
    assert error_db(full, reference_mix(stems, full_state)) < -80

    strip(page, "vocals").get_by_role("button", name="Mute Vocals").click()
    assert (
        strip(page, "vocals")
        .get_by_role("button", name="Mute Vocals")
        .get_attribute("aria-pressed")
        == "true"
    )
    muted_state = mixer_state(page)
    muted = export(page, "export-mix", tmp_path)
    vocals_alone = reference_mix(
        stems, {**muted_state, "strips": [{**s, "muted": s["name"] != "vocals"}
                                          for s in muted_state["strips"]]},
    )  # fmt: skip
    assert error_db(muted, reference_mix(stems, muted_state)) < -80
    assert error_db(full - muted, vocals_alone) < -80  # what went missing is the vocals
    assert energy(muted) == pytest.approx(energy(reference_mix(stems, muted_state)), rel=1e-4)
    assert energy(muted) < energy(full)

    strip(page, "drums").get_by_role("button", name="Solo Drums").click()
    solo = export(page, "export-mix", tmp_path)
    drums_only = reference_mix(stems, mixer_state(page))
    assert error_db(solo, drums_only) < -80
    assert energy(solo) == pytest.approx(energy(drums_only), rel=1e-4)
    assert energy(solo) < energy(muted)
    # two solos sum
    strip(page, "bass").get_by_role("button", name="Solo Bass").click()
    both = export(page, "export-mix", tmp_path)
    assert error_db(both, reference_mix(stems, mixer_state(page))) < -80
    assert energy(both) > energy(solo)

    # a stem's export is that stem as heard (its fader and EQ), even while muted
    vocals = export(page, "export-vocals", tmp_path)
    assert error_db(vocals, vocals_alone) < -80

    page.get_by_role("button", name="Karaoke preset: mute the vocals").click()
    karaoke = export(page, "export-mix", tmp_path)
    assert error_db(karaoke, muted) < -120  # the same state renders the same samples
    reset_mix(page)


def test_eq_nodes_match_the_python_definition(song_job: SongJob, page: Any) -> None:
    """Every band's BiquadFilterNode.getFrequencyResponse agrees with stemdeck.eq.filters
    within 0.1 dB at 20 frequencies from 20 Hz to 20 kHz, for several gains."""
    reset_mix(page)
    rate = page.evaluate("() => window.__stemdeck.mixer().info().sampleRate")
    assert rate == RATE
    freqs = np.geomspace(20.0, 20000.0, 20)
    bands_on_page = page.evaluate("() => window.__stemdeck.bands")
    assert bands_on_page == band_definition()["bands"]  # bands.json, as built into the page
    worst = 0.0
    for index, band in enumerate(BANDS):
        slider = strip(page, "drums").locator(f"input[data-band={band.name}]")
        for gain in (-15.0, -9.5, -3.0, 0.0, 4.5, 10.0, 15.0):
            slider.fill(str(gain))
            state = mixer_state(page)
            assert state["strips"][0]["eq"][band.name] == gain
            page_db = np.array(
                page.evaluate(
                    "([band, freqs]) => window.__stemdeck.mixer().bandResponseDb(0, band, freqs)",
                    [index, freqs.tolist()],
                )
            )
            python_db = 20 * np.log10(
                np.abs(biquad_response(band_coefficients(band, gain, rate), freqs, rate))
            )
            gap = np.abs(page_db - python_db)
            worst = max(worst, float(gap.max()))
            assert gap.max() < 0.1, (band.name, gain, freqs[gap.argmax()], gap.max())
    assert worst < 0.1
    # per-band reset goes back to the AI value; "Flat" zeroes every band
    drums = strip(page, "drums")
    drums.get_by_role("button", name="Drums EQ: flat").click()
    assert all(v == 0 for v in mixer_state(page)["strips"][0]["eq"].values())
    drums.get_by_role("button", name="Drums EQ: use the AI recommendation").click()
    ai = dict(mixer_state(page)["strips"][0]["eq"])
    drums.locator("input[data-band=mid]").fill("12")
    drums.get_by_role("button", name="Reset drums mid band to the AI value").click()
    assert mixer_state(page)["strips"][0]["eq"] == ai


def test_transport_plays_seeks_and_loops_a_region(song_job: SongJob, page: Any) -> None:
    reset_mix(page)
    info = "() => window.__stemdeck.mixer().info()"
    page.get_by_test_id("play").click()
    time.sleep(0.6)
    playing = page.evaluate(info)
    assert playing["playing"] and 0.05 < playing["position"] < 2.5, playing
    page.get_by_role("button", name="Pause").click()
    paused = page.evaluate(info)["position"]
    time.sleep(0.3)
    assert page.evaluate(info)["position"] == paused
    page.get_by_label("Playback position (seconds)").fill("2")
    assert abs(page.evaluate(info)["position"] - 2.0) < 0.02
    # drag across the middle of a waveform: loop 1.0 s .. 2.0 s of the 3 s song
    lane = strip(page, "bass").locator(".lane")
    box = lane.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, y, steps=4)
    page.mouse.move(box["x"] + box["width"] * 2 / 3, y, steps=4)
    page.mouse.up()
    loop_button = page.get_by_role("button", name="Loop the selected region")
    assert loop_button.get_attribute("aria-pressed") == "true"
    page.get_by_test_id("play").click()
    positions = [page.evaluate(info)["position"]]
    deadline = time.monotonic() + 5
    while not any(b < a for a, b in pairwise(positions)) and time.monotonic() < deadline:
        time.sleep(0.1)
        positions.append(page.evaluate(info)["position"])
    assert any(b < a for a, b in pairwise(positions)), f"never wrapped: {positions}"
    assert all(0.95 <= p <= 2.05 for p in positions), positions
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("button", name="Clear the loop region").click()
    assert loop_button.is_disabled()


def test_keyboard_shortcuts(song_job: SongJob, page: Any) -> None:
    """Space plays and pauses; 1-4 pick a stem; M mutes and S solos the picked stem."""
    reset_mix(page)
    page.locator("#mixer-title").click()  # focus on the page, not on a control
    page.keyboard.press("2")
    assert "selected" in strip(page, "bass").get_attribute("class")
    page.keyboard.press("m")
    page.keyboard.press("4")
    page.keyboard.press("s")
    by_name = {s["name"]: s for s in mixer_state(page)["strips"]}
    assert by_name["bass"]["muted"] and not by_name["bass"]["soloed"]
    assert by_name["vocals"]["soloed"] and not by_name["vocals"]["muted"]
    assert (
        strip(page, "bass").get_by_role("button", name="Mute Bass").get_attribute("aria-pressed")
        == "true"
    )
    page.keyboard.press(" ")
    page.wait_for_function("() => window.__stemdeck.mixer().info().playing", timeout=5000)
    page.keyboard.press(" ")
    page.wait_for_function("() => !window.__stemdeck.mixer().info().playing", timeout=5000)
    reset_mix(page)


def unnamed_controls(page: Any) -> list[str]:
    """Buttons, inputs, selects and links of the page with no accessible name."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('button, input, select, a[href]'))
          .filter((el) => !(el.type === 'hidden'))
          .filter((el) => {
            const labelled = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
            const label = el.labels && Array.from(el.labels).some((l) => l.textContent.trim());
            const text = (el.textContent || '').trim() || el.getAttribute('title');
            const textOk = el.tagName === 'BUTTON' || el.tagName === 'A';
            return !(labelled || label || (textOk && text));
          })
          .map((el) => el.outerHTML.slice(0, 120))"""
    )


def test_every_control_has_an_accessible_name(song_job: SongJob, page: Any) -> None:
    assert page.locator(".strip input[type=range]").count() == 16
    assert unnamed_controls(page) == []


def test_raw_stems_and_the_zip_download_through_the_api(
    song_job: SongJob, page: Any, tmp_path: Path
) -> None:
    with page.expect_download() as info:
        page.get_by_role("button", name="Download all raw stems as one zip").click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.name == "Frontend Song.zip"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    assert sorted(n for n in names if n.endswith(".wav")) == sorted(f"{s}.wav" for s in STEMS)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download the raw bass stem (WAV) from the server").click()
    info.value.save_as(tmp_path / "bass.wav")
    assert soundfile.info(tmp_path / "bass.wav").frames == round(SONG_SECONDS * RATE)


def test_phone_width_has_no_sideways_scrolling(song_job: SongJob, page: Any) -> None:
    page.set_viewport_size(PHONE)
    try:
        time.sleep(0.3)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width
        lane = strip(page, "vocals").locator(".lane").bounding_box()
        assert lane["width"] > PHONE["width"] * 0.8  # waveforms go full width, under controls
    finally:
        page.set_viewport_size(DESKTOP)


# ---- refusals and albums -------------------------------------------------------------------


def test_a_text_file_shows_the_servers_message(page: Any, stack: Stack, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("these are my lyrics, not a song\n")
    with notes.open("rb") as handle:
        answer = httpx.post(f"{stack.url}/v1/jobs", files={"file": (notes.name, handle)})
    assert answer.status_code == 415, answer.text
    message = answer.json()["detail"]
    page.goto(stack.url + "/#/")
    drop_files(page, [notes])
    alert = page.get_by_test_id("upload-error")
    alert.wait_for()
    assert alert.locator(".server-message").text_content() == message
    assert "HTTP 415" in alert.text_content()
    assert "does not look like audio" in page.get_by_test_id("upload-status").text_content()
    assert "#/jobs/" not in page.url
    assert unnamed_controls(page) == []  # the upload page's controls are labelled too
    # picked instead of dropped: the same message
    page.reload()
    assert page.get_by_test_id("upload-error").count() == 0
    page.get_by_test_id("file-input").set_input_files(notes)
    page.get_by_test_id("upload-error").wait_for()
    assert page.locator(".server-message").text_content() == message


def test_dropping_three_files_makes_an_album_of_three_jobs(
    page: Any, stack: Stack, tmp_path: Path
) -> None:
    songs = [
        tagged_song(tmp_path / f"0{n} - Track {n}.wav", f"Track {n}", n, "Browser Album", seed=n)
        for n in (1, 2, 3)
    ]
    page.goto(stack.url + "/#/")
    drop_files(page, songs)
    page.wait_for_url("**/#/batches/*", timeout=30_000)
    tracks = page.get_by_test_id("batch-track")
    tracks.nth(2).wait_for()
    assert tracks.count() == 3
    assert page.locator(".batch h1").text_content() == "Browser Album"
    titles = page.locator(".track-title").all_text_contents()
    assert titles == ["Track 1", "Track 2", "Track 3"]
    batch_id = page.url.rsplit("/", 1)[-1]
    batch = httpx.get(f"{stack.url}/v1/batches/{batch_id}").json()
    assert len(batch["job_ids"]) == 3
    # the start page lists the album among this browser's recent uploads
    page.goto(stack.url + "/#/")
    recent = page.get_by_test_id("recent-list")
    first = recent.locator(".recent-item").first
    assert first.get_attribute("data-kind") == "batch"
    assert "Browser Album" in first.text_content() and "3 tracks" in first.text_content()
    assert recent.locator(".recent-item[data-kind=job]").count() >= 1


def test_the_model_picker_offers_the_installed_models(
    song_job: SongJob, page: Any, stack: Stack
) -> None:
    """The "Separator model" picker lists what GET /v1/models lists, each with its one-line
    description, the server's default preselected in a fresh browser; the job made with the
    picked model says which model made its stems."""
    record = httpx.get(f"{stack.url}/v1/jobs/{song_job.id}").json()
    assert record["options"]["model"] == "tiny"
    assert record["results"]["separation"]["model"] == "tiny"
    page.goto(f"{stack.url}/#/jobs/{song_job.id}")
    page.get_by_test_id("job-model").wait_for()
    made_by = page.get_by_test_id("job-model").text_content()
    assert made_by == " · stems by model tiny, soft mask off", made_by

    listing = httpx.get(f"{stack.url}/v1/models").json()
    assert [m["name"] for m in listing["models"]] == ["default", "tiny"]
    fresh = page.context.browser.new_context(viewport=DESKTOP)
    try:
        tab = fresh.new_page()
        tab.goto(stack.url + "/#/")
        tab.locator("details.options summary").click()
        picker = tab.get_by_test_id("model-picker")
        tab.wait_for_function(
            "() => document.querySelectorAll('[data-testid=model-picker] option').length === 2"
        )
        options = picker.locator("option").evaluate_all(
            "els => els.map(e => [e.value, e.textContent])"
        )
        assert [value for value, _ in options] == ["default", "tiny"]
        assert options[0][1].startswith("default (default) — StemDeck's own spectral Conv-TasNet")
        assert options[1][1] == "tiny — a model without a card (no facts known)"
        assert picker.input_value() == "default"
        about = tab.get_by_test_id("model-about")
        assert "4.05 dB SDR" in about.text_content() and "3.0 M parameters" in about.text_content()
        picker.select_option("tiny")
        assert picker.input_value() == "tiny"
        stored = tab.evaluate("() => JSON.parse(localStorage.getItem('stemdeck.options')).model")
        assert stored == "tiny"
    finally:
        fresh.close()
