"""End-to-end separation speed and memory: decode -> model -> stem WAVs, per model and length.

Why: StemDeck promises a real-time factor (processing s / audio s) of at most 0.3 for its
default `compact` model on a 2-core CPU, and memory that does not grow with the song's length
(chunked streaming). This measures both on the real file pipeline (`Separator.separate_file`),
next to the larger `seed` Conv-TasNet and torchaudio's HDemucs (`hdemucs_high`) for scale.

Every (model, length) measurement runs in a fresh Python process, so the peak RSS reported is
that run's alone. Weights are random: speed and memory do not depend on their values.

    .venv/bin/python bench/separation_speed.py                       # full run, ~30 min
    .venv/bin/python bench/separation_speed.py --lengths 10,20 --models compact,hdemucs_high
    .venv/bin/python bench/separation_speed.py --lengths 60 --models compact,compact_raw
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
INPUTS = RESULTS / "inputs"
REAL_SONG = ROOT.parent / "shared" / "audio" / "real" / "Karissa_Hobbs_-_Lets_Go_Fishin.ogg"
RATE, CHANNELS = 44100, 2
MODELS = ("compact", "spectral", "seed", "hdemucs_high")
#: Also accepted: the Conv-TasNet presets without the soft-mask post-filter.
RAW_MODELS = ("compact_raw", "spectral_raw", "seed_raw")
SOURCES = ("drums", "bass", "other", "vocals")
#: Acceptance thresholds the summary checks.
MAX_RTF_COMPACT_60S = 0.3
MAX_RSS_RATIO = 1.3


def log(message: str) -> None:
    """Progress goes to stderr at once: the full run takes half an hour."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- inputs


def _frames_in(path: Path) -> int:
    import soundfile as sf

    try:
        return int(sf.info(os.fspath(path)).frames)
    except (RuntimeError, sf.SoundFileError):
        return -1


def _synth_block(start: int, n: int) -> np.ndarray:
    """Deterministic stand-in music: a bass line, chord tones and noise-burst 'drums'."""
    t = (start + np.arange(n)) / RATE
    beat = (t * 2.0) % 1.0  # 120 bpm
    bass_f = np.where((t // 2) % 2 < 1, 55.0, 73.4)
    out = 0.25 * np.sin(2 * np.pi * bass_f * t)
    for f in (220.0, 277.2, 329.6):
        out += 0.08 * np.sin(2 * np.pi * f * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.25 * t))
    rng = np.random.default_rng(start)
    out += 0.3 * rng.standard_normal(n) * np.exp(-beat * 25.0)
    left, right = out * 0.9, out * 0.8 + 0.05 * np.sin(2 * np.pi * 440.0 * t)
    return np.stack([left, right]).astype(np.float32)


def make_inputs(lengths: list[int]) -> tuple[dict[int, Path], str]:
    """Build (once) a 44.1 kHz stereo 16-bit WAV per length, streamed to disk in 10 s blocks.

    Real music (one song looped and cut) is used when the shared copy exists, since a model's
    speed does not care but the decoder and writer see realistic signals; otherwise synthetic.
    """
    from stemdeck.common.audio import AudioWriter, read_audio

    INPUTS.mkdir(parents=True, exist_ok=True)
    real = REAL_SONG.is_file()
    kind = "real" if real else "synthetic"
    label = f"{REAL_SONG.name} looped/cut" if real else "synthetic (tones + noise bursts)"
    song: np.ndarray | None = None
    paths: dict[int, Path] = {}
    for seconds in lengths:
        path = INPUTS / f"{kind}_{seconds}s.wav"
        total = seconds * RATE
        paths[seconds] = path
        if _frames_in(path) == total:
            continue
        log(f"input: writing {path.relative_to(ROOT)} ({seconds} s, {label})")
        if real and song is None:
            song = read_audio(REAL_SONG, RATE, CHANNELS)  # 133 s: 23 MB, in this process only
        with AudioWriter(path, RATE, CHANNELS, "wav", 16) as writer:
            for start in range(0, total, 10 * RATE):
                n = min(10 * RATE, total - start)
                if song is None:
                    writer.write(_synth_block(start, n))
                    continue
                idx = (start + np.arange(n)) % song.shape[1]
                writer.write(song[:, idx])
    return paths, label


# --------------------------------------------------------------------------- worker


def build_separator(name: str) -> tuple[Any, float, str]:
    """A ready `Separator` for `name`, its parameter count in millions, and its chunking.

    Every model goes through the same engine with its own defaults, as `stemdeck separate`
    runs it: the Conv-TasNet presets with the soft mask on (as the bundled models' cards have
    it: it raised BSSEval on the real previews for `compact` and for `spectral`, whose own masks
    already apply to the mixture's STFT), `hdemucs_high` with its 7.8 s segment and no mask.
    `<preset>_raw` overrides the mask off, to price the filter."""
    import torch

    from stemdeck.separator.checkpoints import LoadedModel
    from stemdeck.separator.config import preset
    from stemdeck.separator.model import ConvTasNet
    from stemdeck.separator.separate import Separator

    torch.manual_seed(0)
    if name == "hdemucs_high":
        from stemdeck.separator import hdemucs

        config = hdemucs.HDemucsConfig(sources=SOURCES)
        loaded = LoadedModel(hdemucs.build(config).eval(), config, soft_mask=False)
    else:
        raw = name.endswith("_raw")
        tasnet = preset(name.removesuffix("_raw"))
        loaded = LoadedModel(ConvTasNet(tasnet), tasnet, soft_mask=not raw)
    params = sum(p.numel() for p in loaded.model.parameters()) / 1e6
    separator = Separator(loaded, device="cpu")
    mask = "" if separator.chunks.soft_mask else ", no mask"
    return separator, params, f"{separator.chunks.segment:g} s / {separator.chunks.overlap:g}{mask}"


def _proc_status_mib(field: str) -> float:
    """VmRSS / VmHWM of this process from /proc, in MiB (NaN off Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def worker(name: str, path: Path, threads: int | None) -> dict[str, Any]:
    """One measurement in this (fresh) process: load the model, separate the file once."""
    started = time.perf_counter()
    import torch

    if threads:
        torch.set_num_threads(threads)
    imported = time.perf_counter()
    separator, params, chunking = build_separator(name)
    loaded = time.perf_counter()
    rss_loaded = _proc_status_mib("VmRSS")
    marks = iter(range(10, 101, 10))
    next_mark = [next(marks)]

    def progress(fraction: float) -> None:
        while next_mark[0] <= fraction * 100 + 1e-9:
            log(f"    {name} {path.name}: {next_mark[0]}%")
            next_mark[0] = next(marks, 1000)

    load_1m = os.getloadavg()[0]
    cpu_began = time.process_time()
    with tempfile.TemporaryDirectory(prefix="stemdeck-bench-") as out_dir:
        result = separator.separate_file(path, Path(out_dir), progress=progress)
    cpu_s = time.process_time() - cpu_began
    return {
        "model": name,
        "params_m": params,
        "chunking": chunking,
        "input": path.name,
        "audio_s": result.duration,
        "separate_s": result.seconds,
        "rtf": result.real_time_factor,
        # CPU seconds of all threads; cpu_s / (separate_s * threads) well below 1 means the
        # run was starved by other work on the machine, so its wall time overstates the RTF.
        "cpu_s": cpu_s,
        "loadavg_1m_at_start": load_1m,
        "import_s": imported - started,
        "load_s": loaded - imported,
        "rss_after_load_mib": rss_loaded,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "vm_hwm_mib": _proc_status_mib("VmHWM"),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
    }


# --------------------------------------------------------------------------- driver


def run_child(name: str, path: Path, threads: int | None) -> dict[str, Any]:
    """Measure in a fresh interpreter, so peak RSS belongs to this run alone."""
    cmd = [sys.executable, os.fspath(Path(__file__).resolve()), "--worker", name, os.fspath(path)]
    if threads:
        cmd += ["--threads", str(threads)]
    began = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(f"worker {name} {path.name} failed with exit code {proc.returncode}")
    row: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    row["process_s"] = wall
    return row


def machine_info() -> dict[str, Any]:
    """What the figures depend on: the CPU, the cores this process may use, PyTorch."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cores_usable": usable,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median time over repeats; the largest peak RSS (memory bounds are about the worst)."""
    row = dict(runs[0])
    for key in ("separate_s", "rtf", "cpu_s", "load_s", "import_s", "process_s"):
        row[key] = statistics.median(r[key] for r in runs)
    for key in ("peak_rss_mib", "vm_hwm_mib", "rss_after_load_mib"):
        row[key] = max(r[key] for r in runs)
    row["repeats"] = len(runs)
    row["rtf_all"] = [r["rtf"] for r in runs]
    return row


def _cpu_share(row: dict[str, Any]) -> float:
    """Fraction of its threads' time the run got the CPU: well below 1 = contended run."""
    return row["cpu_s"] / (row["separate_s"] * row["torch_threads"])


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| model | params (M) | chunks (segment / overlap) | input s | RTF | separate s "
        "| CPU share | load s | process s | RSS after load MiB | peak RSS MiB |"
    )
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['params_m']:.2f} | {r['chunking']} | {r['audio_s']:.0f} "
            f"| {r['rtf']:.3f} | {r['separate_s']:.1f} | {_cpu_share(r):.2f} | {r['load_s']:.2f} "
            f"| {r['process_s']:.1f} | {r['rss_after_load_mib']:.0f} | {r['peak_rss_mib']:.0f} |"
        )
    return "\n".join(lines)


def checks(rows: list[dict[str, Any]], models: list[str]) -> list[str]:
    """The acceptance checks: compact RTF at 60 s, and peak RSS 600 s / 60 s per model."""
    by = {(r["model"], round(r["audio_s"])): r for r in rows}
    out: list[str] = []
    if "compact" in models:
        r = by.get(("compact", 60))
        if r is None:
            out.append(f"compact RTF at 60 s <= {MAX_RTF_COMPACT_60S}: n/a (no 60 s run)")
        else:
            ok = "yes" if r["rtf"] <= MAX_RTF_COMPACT_60S else "no"
            out.append(f"compact RTF at 60 s <= {MAX_RTF_COMPACT_60S}: {ok} ({r['rtf']:.3f})")
    for name in models:
        long, short = by.get((name, 600)), by.get((name, 60))
        if long is None or short is None:
            out.append(f"{name} peak RSS 600 s / 60 s: n/a (needs both lengths)")
            continue
        ratio = long["peak_rss_mib"] / short["peak_rss_mib"]
        ok = "yes" if ratio <= MAX_RSS_RATIO else "no"
        out.append(
            f"{name} peak RSS 600 s / 60 s = {ratio:.3f} "
            f"({long['peak_rss_mib']:.0f} / {short['peak_rss_mib']:.0f} MiB; "
            f"<= {MAX_RSS_RATIO}: {ok})"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated")
    parser.add_argument("--lengths", default="10,60,600", help="input seconds, comma-separated")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch)")
    parser.add_argument("--repeat", type=int, default=1, help="fresh runs per cell (median)")
    parser.add_argument("--worker", nargs=2, metavar=("MODEL", "INPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        name, path = args.worker
        print(json.dumps(worker(name, Path(path), args.threads)), flush=True)
        return 0

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(MODELS) - set(RAW_MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; known: {', '.join(MODELS + RAW_MODELS)}")
    lengths = [int(s) for s in args.lengths.split(",") if s.strip()]
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    info = machine_info()
    log(f"machine: {info['cpu']}, {info['cores_usable']} usable cores, Python {info['python']}")
    load_before = os.getloadavg()
    inputs, input_label = make_inputs(lengths)
    rows: list[dict[str, Any]] = []
    total = len(models) * len(lengths) * args.repeat
    done = 0
    began = time.perf_counter()
    for name in models:
        for seconds in lengths:
            runs = []
            for _ in range(args.repeat):
                done += 1
                log(f"[{done}/{total}] {name}, {seconds} s input ...")
                run = run_child(name, inputs[seconds], args.threads)
                log(
                    f"[{done}/{total}] {name}, {seconds} s: RTF {run['rtf']:.3f}, separate "
                    f"{run['separate_s']:.1f} s, CPU share {_cpu_share(run):.2f}, "
                    f"peak RSS {run['peak_rss_mib']:.0f} MiB, "
                    f"process {run['process_s']:.1f} s"
                )
                runs.append(run)
            rows.append(summarise(runs))
    load_after = os.getloadavg()
    info.update(
        torch_version=rows[0]["torch_version"],
        torch_threads=rows[0]["torch_threads"],
        input=input_label,
        loadavg_1m_before_after=[round(load_before[0], 2), round(load_after[0], 2)],
        total_minutes=round((time.perf_counter() - began) / 60, 1),
        command=" ".join([Path(sys.executable).name, *sys.argv]),
    )
    summary = checks(rows, models)
    md = "\n".join(
        [
            "# Separation speed (decode -> model -> stem WAVs, CPU)",
            "",
            table(rows),
            "",
            "RTF = separate_file wall seconds / audio seconds (model load excluded; "
            "'process s' is the whole fresh process). CPU share = CPU s / (separate s x torch "
            "threads): well below 1 means other work on the machine slowed the run. "
            "Peak RSS = the process's ru_maxrss. "
            f"Random weights. {args.repeat} run(s) per cell, median time, max RSS. "
            "Every model runs through the same engine with its own defaults (segment, soft "
            "mask): hdemucs_high 7.8 s segments without the mask, spectral, compact and seed "
            "12 s / 2 s / 4 s with it; `_raw` = the mask overridden off.",
            "",
            *[f"- {line}" for line in summary],
            "",
            f"Machine: {info['cpu']}, {info['cores_usable']} usable cores, torch "
            f"{info['torch_version']} with {info['torch_threads']} threads, Python "
            f"{info['python']}. Input: {input_label}. Load average (1 min) before/after: "
            f"{info['loadavg_1m_before_after'][0]} / {info['loadavg_1m_before_after'][1]}. "
            f"Total {info['total_minutes']} min.",
        ]
    )
    print(md, flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "separation_speed.md").write_text(md + "\n")
    payload = {"machine": info, "rows": rows, "checks": summary}
    (RESULTS / "separation_speed.json").write_text(json.dumps(payload, indent=2) + "\n")
    log(f"wrote {(RESULTS / 'separation_speed.md').relative_to(ROOT)} and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
