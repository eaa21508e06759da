"""Seconds per training step of separator presets, and seconds of audio learned per CPU second.

Random stems stand in for the data (the cost of a step does not depend on what the audio is);
each configuration runs a few warm-up steps, then times forward, loss (waveform L1 plus the
multi-resolution STFT term, as the head-to-head trains) and backward with Adam, in one thread,
in float32 and under bfloat16 autocast. Run it on a quiet machine; compare figures only within
one run.

    .venv/bin/python bench/train_step.py --preset compact:4x2 --preset spectral:4x4
"""

from __future__ import annotations

import argparse
import time

import torch

from stemdeck.common.memory import keep_freed_memory
from stemdeck.separator.config import PRESETS
from stemdeck.separator.model import ConvTasNet
from stemdeck.training.separator import SeparatorTask, TrainSettings

RATE = 44100


def time_steps(preset: str, batch: int, seconds: float, bf16: bool, steps: int) -> float:
    """Mean CPU seconds per optimiser step after two warm-up steps."""
    torch.manual_seed(0)
    model = ConvTasNet(PRESETS[preset])
    settings = TrainSettings(batch=batch, segment=seconds, stft_loss=1.0, bf16=bf16)
    task = SeparatorTask(None, [], settings, torch.device("cpu"), {})  # type: ignore[arg-type]
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    stems = 0.1 * torch.randn(batch, 4, 2, round(seconds * RATE))
    batch_tensors = task.build(stems)
    spent = []
    for step in range(steps + 2):
        began = time.process_time()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = task.loss(model, batch_tensors)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step >= 2:
            spent.append(time.process_time() - began)
    return sum(spent) / len(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--preset",
        action="append",
        required=True,
        help="PRESET:BATCHxSECONDS, e.g. spectral:4x4 (repeatable)",
    )
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--no-bf16", action="store_true", help="time float32 only")
    parser.add_argument(
        "--default-allocator",
        action="store_true",
        help="leave glibc's malloc as it is (for comparison; training turns it off)",
    )
    args = parser.parse_args()
    if not args.default_allocator:
        keep_freed_memory()
    torch.set_num_threads(1)
    print("preset    batch x s   precision  s/step  audio s per CPU s")
    for item in args.preset:
        preset, shape = item.split(":")
        batch, seconds = shape.split("x")
        for bf16 in (False,) if args.no_bf16 else (False, True):
            per_step = time_steps(preset, int(batch), float(seconds), bf16, args.steps)
            audio = int(batch) * float(seconds)
            precision = "bf16" if bf16 else "fp32"
            print(
                f"{preset:9s} {int(batch):2d} x {float(seconds):4.1f}  {precision:9s}"
                f"  {per_step:6.2f}  {audio / per_step:6.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
