"""Separation models: which ones this server can run, so clients can choose one per job.

The gateway reads the same model folders as the separator workers (the bundled weights and
STEMDECK_MODEL_DIR) without loading a model: the facts come from each model's card
(`stemdeck.separator.cards`), the speeds from what the workers measured here.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from stemdeck.api.context import Caller, ServicesDep
from stemdeck.separator.installed import DEFAULT_MODEL, InstalledModel, Origin, installed_models

router = APIRouter(prefix="/v1/models", tags=["models"])


class QualityView(BaseModel):
    sdr_db: float = Field(description="Mean SDR over the four stems, in dB.")
    measured_on: str = Field(description="Which songs and metric.")
    source: str = Field(description="Where the figure is published.")


class SpeedView(BaseModel):
    real_time_factor: float = Field(description="Separation seconds per second of audio.")
    device: str
    audio_s: float = Field(description="Length of the song it was measured on.")
    measured_at: float = Field(description="Unix time of the measurement.")


class ModelView(BaseModel):
    name: str = Field(description="What to send as `model` with a job.")
    family: str | None = Field(description="tasnet (Conv-TasNet) or hdemucs (Hybrid Demucs).")
    description: str
    origin: Origin
    parameters: int | None
    sources: list[str]
    size_bytes: int
    licence: str | None
    origin_url: str | None = Field(description="Where the weights were downloaded from.")
    quality: QualityView | None = Field(description="Published or measured separation quality.")
    quality_note: str | None
    speed: SpeedView | None = Field(description="Last real-time factor measured on this server.")
    soft_mask: bool = Field(description="Whether the soft-mask post-filter is on by default.")
    default: bool = Field(description="Whether jobs without a model use this one.")


class ModelList(BaseModel):
    models: list[ModelView]
    default: str | None = Field(description="The model jobs use when they name none.")


def view(model: InstalledModel) -> ModelView:
    card = model.card
    speed = model.measured
    return ModelView(
        name=model.name,
        family=card.family if card else None,
        description=card.description if card else "a model without a card (no facts known)",
        origin=model.origin,
        parameters=card.parameters if card else None,
        sources=list(card.sources) if card else [],
        size_bytes=model.size_bytes,
        licence=card.licence if card else None,
        origin_url=card.origin_url if card else None,
        quality=QualityView(**vars(card.quality)) if card and card.quality else None,
        quality_note=card.note if card else None,
        speed=SpeedView(
            real_time_factor=speed["rtf"],
            device=speed.get("device", "?"),
            audio_s=speed.get("audio_s", 0.0),
            measured_at=speed.get("measured_at", 0.0),
        )
        if speed and isinstance(speed.get("rtf"), int | float)
        else None,
        soft_mask=card.soft_mask if card else False,
        default=model.default,
    )


def catalogue(server_default: str) -> ModelList:
    """The installed models; `default` marks the server's default (STEMDECK_SEPARATOR_MODEL)
    when it names one of them, else what `default` resolves to."""
    models = installed_models()
    if server_default != DEFAULT_MODEL and any(m.name == server_default for m in models):
        models = [replace(m, default=m.name == server_default) for m in models]
    views = [view(m) for m in models]
    chosen = next((v.name for v in views if v.default), None)
    return ModelList(models=views, default=chosen)


def installed_names() -> list[str]:
    return [m.name for m in installed_models()]


@router.get("", summary="The separation models this server can run")
async def list_models(services: ServicesDep, _: Caller) -> ModelList:
    """Installed models with their family, size, published quality (and where it was measured),
    speed measured on this server, licence, origin, and which one is the default."""
    return await run_in_threadpool(catalogue, services.settings.separator_model)
