"""Synthetic multitrack songs with exact stems: compose, render with FluidSynth and Festival,
mix each stem, and write a MUSDB18-HQ-layout corpus. Needs the `synth` extra and the system
packages that `scripts/install-synth-deps` installs; serving never imports this package."""
