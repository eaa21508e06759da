"""The one training loop every StemDeck model uses: schedule, autocast, EMA, validation,
checkpoints and exact resume.

A model's training module describes *what* to learn as a `TrainingTask` (how to draw and build
a batch, the loss, how to validate, how to save the best model); this loop decides *when*:
warm-up and cosine learning rate, gradient clipping, bfloat16 autocast, an exponential moving
average of the weights (the EMA weights are what is validated and shipped when it is on),
validation every `valid_every` steps, `history.csv` and its plot, `best.pt` and `state.pt`.

Batches are drawn from one `torch.Generator` in the loop's thread (so saving its state resumes
the data stream exactly) and built in a helper thread while the previous batch trains.
"""

from __future__ import annotations

import copy
import csv
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from stemdeck.common.atomic import atomic_write
from stemdeck.common.checkpoints import restricted_load
from stemdeck.common.memory import keep_freed_memory


@dataclass(frozen=True)
class LoopSettings:
    """When and how fast to learn.

    Attributes:
        steps: optimiser steps in total (a resumed run continues to this count).
        lr: peak Adam learning rate, reached after `warmup` steps, then cosine-decayed to 10 %.
        warmup: steps of linear warm-up (also after a restart from weights alone).
        clip: gradient-norm clip, or None.
        valid_every: steps between validations and checkpoints.
        bf16: run the forward pass under bfloat16 autocast where the hardware computes in
            bfloat16 (a recent GPU, a CPU with AVX-512 BF16 or AMX); elsewhere it is emulated
            and slower, so the loop trains in float32 (see `native_bf16`).
        ema: decay of the exponential moving average of the weights, or None for none.
        seed: seed of the data stream and the initialisation.
        device: where the model trains.
        time_limit: stop at the first step after this many seconds of this session, with a
            validation and a checkpoint (a lent GPU for 15 minutes, a session's end).
    """

    steps: int
    lr: float
    warmup: int = 100
    clip: float | None = None
    valid_every: int = 100
    bf16: bool = True
    ema: float | None = None
    seed: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    time_limit: float | None = None


class TrainingTask(Protocol):
    """What a model's training module supplies to `run`."""

    #: The history column that picks the best model, and whether higher is better.
    score_key: str
    higher_is_better: bool

    def draw(self, gen: torch.Generator) -> Any:
        """Every random choice of one batch (runs in the loop's thread)."""

    def build(self, drawn: Any) -> Any:
        """The batch from those choices, deterministic (runs in a helper thread)."""

    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """The training loss of one batch (called under autocast)."""

    def validate(self, model: nn.Module) -> dict[str, float]:
        """History columns for the model as it is now (the EMA weights when EMA is on)."""

    def save_best(self, path: Path, model: nn.Module, row: dict[str, Any]) -> None:
        """Write the best model so far in the model's own checkpoint format."""

    def plot(self, history: Path, png: Path) -> None:
        """The run's curves as a PNG beside history.csv."""


def learning_rate(settings: LoopSettings, step: int, restarted_at: int = 0) -> float:
    """Warm-up from `restarted_at` (0, or the step where Adam restarted without its state),
    then the cosine over the whole run."""
    warm = min(1.0, (step - restarted_at + 1) / max(1, settings.warmup))
    progress = min(1.0, step / max(1, settings.steps))
    return settings.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def native_bf16(device: torch.device) -> bool:
    """Whether bfloat16 autocast is worth it here. On the 2-core AVX2 machine it made a
    training step 3.2x slower for `compact` and 2x for `spectral` (bench/train_step.py)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resume_path(out: Path, resume: bool | Path) -> Path | None:
    """The state to continue from: an explicit checkpoint (which must exist), else OUT/state.pt
    when present, unless resuming is off."""
    if resume is False:
        return None
    if resume is True:
        own = out / "state.pt"
        return own if own.is_file() else None
    path = Path(resume)
    path = path / "state.pt" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"no training state to resume at {path}")
    return path


class WeightAverage:
    """Exponential moving average of a model's parameters; buffers (BatchNorm statistics) are
    copied. The decay ramps up as (1 + n) / (10 + n) so early steps are not frozen in."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        self.updates = 0
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        mine = list(self.model.parameters())
        theirs = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(mine, theirs, 1 - decay)
        for own, other in zip(self.model.buffers(), model.buffers(), strict=True):
            own.copy_(other)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])


def run(
    task: TrainingTask,
    model: nn.Module,
    settings: LoopSettings,
    out: Path,
    resume: bool | Path = True,
    log: Callable[[str], None] = print,
    progress: Callable[[int, int, float], None] | None = None,
) -> Path:
    """Train `model` on `task` until `settings.steps`, validating and checkpointing every
    `valid_every` steps; returns the path of the best model.

    `out/state.pt` holds everything needed to continue exactly (weights, EMA, optimiser, step,
    data-stream state); `out/carry.pt` the same without the optimiser and with the weights in
    half precision, small enough to commit so that a run continues on another machine (Adam
    then restarts with a warm-up). `resume` is True (continue from out/state.pt when present),
    False, or the path of either file (or of a run folder)."""
    keep_freed_memory()  # page faults were up to two thirds of a step (stemdeck.common.memory)
    state_path = resume_path(out, resume)
    device = settings.device
    bf16 = settings.bf16 and native_bf16(device)
    if settings.bf16 and not bf16:
        log(f"training in float32: {device.type} has no native bfloat16, where autocast is slower")
    model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    average = WeightAverage(model, settings.ema) if settings.ema else None
    gen = torch.Generator().manual_seed(settings.seed)
    step, best = 0, -math.inf if task.higher_is_better else math.inf
    spent = {"seconds": 0.0, "cpu_seconds": 0.0}  # totals over every session of the run
    restarted_at = 0
    if state_path is not None:
        state = restricted_load(state_path, ValueError, "only StemDeck training states")
        model.load_state_dict(state["model"])
        restarted_at = int(state.get("restarted_at", 0))
        if "optimiser" in state:
            optimiser.load_state_dict(state["optimiser"])
        else:
            restarted_at = int(state["step"])
            log(f"no optimiser state in {state_path.name}: Adam restarts with a warm-up")
        gen.set_state(state["generator"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        step, best = state["step"], state["best"]
        spent = {k: float(state.get(k, 0.0)) for k in spent}
        if average is not None:
            if "ema" in state:
                average.load_state_dict(state["ema"])
            else:  # a state written without EMA: start the average from these weights
                average = WeightAverage(model, average.decay)
        log(f"resumed at step {step} from {state_path} (best {task.score_key} {best:.3f})")
        _drop_rows_after(out / "history.csv", step)
    out.mkdir(parents=True, exist_ok=True)
    better: Callable[[float, float], bool] = (
        (lambda a, b: a > b) if task.higher_is_better else (lambda a, b: a < b)
    )
    losses: list[float] = []
    began, began_cpu = time.perf_counter(), time.process_time()
    model.train()
    with ThreadPoolExecutor(max_workers=1) as helper:
        pending = helper.submit(task.build, task.draw(gen)) if step < settings.steps else None
        while pending is not None:
            batch = pending.result()
            after_draw = gen.get_state()  # where a resumed run must start drawing again
            pending = (
                helper.submit(task.build, task.draw(gen)) if step + 1 < settings.steps else None
            )
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(settings, step, restarted_at)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = task.loss(model, batch)
            optimiser.zero_grad()
            loss.backward()
            if settings.clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip)
            optimiser.step()
            if average is not None:
                average.update(model)
            losses.append(loss.item())
            step += 1
            if progress:
                progress(step, settings.steps, losses[-1])
            out_of_time = (
                settings.time_limit is not None
                and time.perf_counter() - began >= settings.time_limit
            )
            if step % settings.valid_every and step != settings.steps and not out_of_time:
                continue
            judged = average.model if average is not None else model
            judged.eval()
            with torch.inference_mode():
                scores = task.validate(judged)
            model.train()
            row = {
                "step": step,
                "loss": round(sum(losses) / len(losses), 5),
                "lr": learning_rate(settings, step, restarted_at),
                "seconds": round(spent["seconds"] + time.perf_counter() - began, 1),
                "cpu_seconds": round(spent["cpu_seconds"] + time.process_time() - began_cpu, 1),
                **scores,
            }
            _append_csv(out / "history.csv", row)
            task.plot(out / "history.csv", out / "loss.png")
            log(" ".join(f"{k}={v}" for k, v in row.items()))
            losses.clear()
            if better(float(row[task.score_key]), best):
                best = float(row[task.score_key])
                task.save_best(out / "best.pt", judged, row)
            state = {
                "model": model.state_dict(),  # on the training device; loads anywhere
                "optimiser": optimiser.state_dict(),
                "generator": after_draw,
                "torch_rng": torch.get_rng_state(),
                "step": step,
                "best": best,
                "restarted_at": restarted_at,
                "seconds": row["seconds"],
                "cpu_seconds": row["cpu_seconds"],
                **({"ema": average.state_dict()} if average is not None else {}),
            }
            _save_state(out / "state.pt", state)
            _save_state(out / "carry.pt", carry(state))
            if out_of_time:
                log(f"stopped at step {step}: the time limit of {settings.time_limit:.0f} s")
                pending = None
    return out / "best.pt"


def _half(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.half().cpu() if v.is_floating_point() else v.cpu() for k, v in weights.items()}


def carry(state: dict[str, Any]) -> dict[str, Any]:
    """The state a later session needs on a new machine, small enough to commit: weights and
    EMA in half precision, counters and the data stream; no optimiser."""
    slim = {k: v for k, v in state.items() if k != "optimiser"}
    slim["model"] = _half(state["model"])
    if "ema" in state:
        slim["ema"] = {**state["ema"], "model": _half(state["ema"]["model"])}
    return slim


def _save_state(path: Path, state: dict[str, Any]) -> None:
    atomic_write(path, lambda temporary: torch.save(state, temporary))


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def _drop_rows_after(path: Path, step: int) -> None:
    """Forget history written after the state a run resumes from (a run killed between
    logging and saving), so the curve continues without repeated or stale points."""
    if not path.is_file():
        return
    rows = read_rows(path)
    kept = [row for row in rows if int(row["step"]) <= step]
    if len(kept) == len(rows):
        return
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)


def plot_curves(
    history: Path | Sequence[dict],
    png: Path,
    loss_label: str,
    columns: Sequence[tuple[str, str]],
    score_label: str,
    score_title: str,
) -> None:
    """Training loss and validation columns per checkpoint, as a PNG (written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_rows(history) if isinstance(history, Path) else list(history)
    steps = [int(r["step"]) for r in rows]
    figure, (loss_axis, score_axis) = plt.subplots(1, 2, figsize=(11, 4))
    loss_axis.plot(steps, [float(r["loss"]) for r in rows], marker=".")
    loss_axis.set(xlabel="step", ylabel=loss_label, title="training loss")
    for key, label in columns:
        score_axis.plot(steps, [float(r[key]) for r in rows], marker=".", label=label)
    score_axis.set(xlabel="step", ylabel=score_label, title=score_title)
    score_axis.legend()
    figure.tight_layout()
    atomic_write(png, lambda temporary: figure.savefig(temporary, dpi=80))
    plt.close(figure)
