"""Conv-TasNet (Luo & Mesgarani, 2019) for stereo music, laid out like Demucs v2's `tasnet`.

Module and parameter names follow Demucs v2 exactly, so its state_dicts (the seed's X=8 model
and the official X=10 `tasnet` weights) load with `load_state_dict` and no key map. The parts
compose: an encoder, a `MaskNet` (the temporal conv net) and a decoder. The encoder is either
the learned filterbank (`Encoder` / `Decoder`) or fixed STFT frames (`StftEncoder` /
`StftDecoder`): for long windows an STFT basis matches a learned one (Kavalerov et al. 2019;
Heitkaemper et al. 2020) at a hop of 1024 instead of 10 samples, so the same masker sees about
100 times more context for a tenth of the compute per second of audio.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from stemdeck.separator.config import TasNetConfig

#: Demucs v2 adds this inside the square root of every norm (biased variance).
NORM_EPS = 1e-8


class GlobalLayerNorm(nn.Module):
    """gLN: normalise over channels and time. GroupNorm(1, C) is 1.6-2.2x faster here than
    hand-written mean/var, so it does the work; gamma/beta keep Demucs' (1, C, 1) shape."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(1, channels, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.group_norm(x, 1, self.gamma.flatten(), self.beta.flatten(), NORM_EPS)


class ChannelwiseLayerNorm(nn.Module):
    """cLN: normalise over channels at each time step (Demucs uses it before the bottleneck)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(1, channels, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x.transpose(1, 2), (x.shape[1],), eps=NORM_EPS).transpose(1, 2)
        return y * self.gamma + self.beta


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "gLN":
        return GlobalLayerNorm(channels)
    if kind == "cLN":
        return ChannelwiseLayerNorm(channels)
    return nn.BatchNorm1d(channels)


class DepthwiseSeparableConv(nn.Module):
    """Dilated depthwise conv, PReLU, norm, then a 1x1 conv back to the bottleneck width."""

    def __init__(self, hidden: int, out: int, kernel: int, dilation: int, norm: str) -> None:
        super().__init__()
        padding = (kernel - 1) * dilation // 2
        self.net = nn.Sequential(
            nn.Conv1d(
                hidden,
                hidden,
                kernel,
                padding=padding,
                dilation=dilation,
                groups=hidden,
                bias=False,
            ),
            nn.PReLU(),
            make_norm(norm, hidden),
            nn.Conv1d(hidden, out, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TemporalBlock(nn.Module):
    """One residual block: 1x1 B->H, PReLU, norm, depthwise-separable conv H->B."""

    def __init__(self, bottleneck: int, hidden: int, kernel: int, dilation: int, norm: str) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(bottleneck, hidden, 1, bias=False),
            nn.PReLU(),
            make_norm(norm, hidden),
            DepthwiseSeparableConv(hidden, bottleneck, kernel, dilation, norm),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class Encoder(nn.Module):
    """Learned analysis filterbank: stereo waveform -> non-negative latent frames."""

    def __init__(self, cfg: TasNetConfig) -> None:
        super().__init__()
        self.conv1d_U = nn.Conv1d(cfg.audio_channels, cfg.N, cfg.L, stride=cfg.L // 2, bias=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv1d_U(wav))


class MaskNet(nn.Module):
    """The temporal conv net: estimates one mask per source over the encoder's latent."""

    def __init__(self, cfg: TasNetConfig) -> None:
        super().__init__()
        repeats = [
            nn.Sequential(
                *(TemporalBlock(cfg.B, cfg.H, cfg.P, 2**x, cfg.norm) for x in range(cfg.X))
            )
            for _ in range(cfg.R)
        ]
        self.network = nn.Sequential(
            ChannelwiseLayerNorm(cfg.N),
            nn.Conv1d(cfg.N, cfg.B, 1, bias=False),
            nn.Sequential(*repeats),
            nn.Conv1d(cfg.B, len(cfg.sources) * cfg.N, 1, bias=False),
        )
        self.sources = len(cfg.sources)
        self.mask_nonlinear = cfg.mask_nonlinear

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        batch, filters, frames = latent.shape
        score = self.network(latent).view(batch, self.sources, filters, frames)
        if self.mask_nonlinear == "softmax":
            return torch.softmax(score.float(), dim=1)
        if self.mask_nonlinear == "sigmoid":
            return torch.sigmoid(score)
        return F.relu(score)


class Decoder(nn.Module):
    """Masked latent -> waveform: a linear basis per frame, overlap-added with hop L/2."""

    def __init__(self, cfg: TasNetConfig) -> None:
        super().__init__()
        self.L = cfg.L
        self.audio_channels = cfg.audio_channels
        self.basis_signals = nn.Linear(cfg.N, cfg.audio_channels * cfg.L, bias=False)

    def forward(self, latent: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        masked = (latent.unsqueeze(1) * mask).transpose(2, 3)  # (batch, src, frames, N)
        frames = self.basis_signals(masked)  # (batch, src, frames, ch * L)
        batch, sources, count, _ = frames.shape
        frames = frames.view(batch * sources, count, self.audio_channels * self.L)
        # fold = overlap-add of the frames at hop L/2, one call for every channel.
        length = (count - 1) * (self.L // 2) + self.L
        wav = F.fold(
            frames.transpose(1, 2),
            output_size=(1, length),
            kernel_size=(1, self.L),
            stride=(1, self.L // 2),
        )
        return wav.view(batch, sources, self.audio_channels, length)


class StftEncoder(nn.Module):
    """Fixed analysis: the complex STFT of each channel, and the masker's input from it —
    log-compressed magnitudes of the bins up to `max_freq`, both channels stacked as rows.
    The masker's first layer (a channel-wise layer norm) normalises them per frame."""

    window: torch.Tensor  # a buffer (register_buffer), typed here for the checker

    def __init__(self, cfg: TasNetConfig) -> None:
        super().__init__()
        self.n_fft, self.hop, self.bins = cfg.L, cfg.stride, cfg.stft_bins
        self.register_buffer("window", torch.hann_window(cfg.L), persistent=False)

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, channels, time) -> features (batch, channels * bins, frames) and the
        spectrum (batch, channels, n_fft // 2 + 1, frames)."""
        batch, channels, length = wav.shape
        spec = torch.stft(
            wav.reshape(batch * channels, length).float(),
            self.n_fft,
            self.hop,
            window=self.window,
            pad_mode="constant",
            return_complex=True,
        )
        spec = spec.view(batch, channels, *spec.shape[-2:])
        features = torch.log1p(spec[:, :, : self.bins].abs())
        return features.reshape(batch, channels * self.bins, -1), spec


class StftDecoder(nn.Module):
    """Masks applied to the complex mixture spectrum, then the inverse STFT. Bins above the
    masker's band take the mask of its highest bin, so with softmax masks the stems still add
    up to the input exactly."""

    window: torch.Tensor  # a buffer (register_buffer), typed here for the checker

    def __init__(self, cfg: TasNetConfig) -> None:
        super().__init__()
        self.n_fft, self.hop, self.channels = cfg.L, cfg.stride, cfg.audio_channels
        self.register_buffer("window", torch.hann_window(cfg.L), persistent=False)

    def forward(self, spec: torch.Tensor, mask: torch.Tensor, length: int) -> torch.Tensor:
        batch, sources, _, frames = mask.shape
        mask = mask.float().view(batch, sources, self.channels, -1, frames)
        missing = spec.shape[-2] - mask.shape[-2]
        if missing:
            mask = torch.cat([mask, mask[..., -1:, :].expand(*mask.shape[:3], missing, -1)], -2)
        stems = mask * spec.unsqueeze(1)
        wav = torch.istft(
            stems.reshape(-1, *spec.shape[-2:]),
            self.n_fft,
            self.hop,
            window=self.window,
            length=length,
        )
        return wav.view(batch, sources, self.channels, length)


class ConvTasNet(nn.Module):
    """Stereo waveform (batch, channels, time) -> stems (batch, sources, channels, time)."""

    def __init__(self, cfg: TasNetConfig) -> None:
        super().__init__()
        self.config = cfg
        spectral = cfg.encoder == "stft"
        self.encoder = StftEncoder(cfg) if spectral else Encoder(cfg)
        self.separator = MaskNet(cfg)
        self.decoder = StftDecoder(cfg) if spectral else Decoder(cfg)

    @property
    def sources(self) -> tuple[str, ...]:
        return self.config.sources

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.shape[-1] < self.config.L:
            raise ValueError(f"input of {wav.shape[-1]} samples is shorter than one frame")
        if isinstance(self.encoder, StftEncoder):
            features, spec = self.encoder(wav)
            return self.decoder(spec, self.separator(features), wav.shape[-1])
        latent = self.encoder(wav)
        stems = self.decoder(latent, self.separator(latent))
        return F.pad(stems, (0, wav.shape[-1] - stems.shape[-1]))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
