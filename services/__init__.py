"""StemDeck: song in, four stems out; each service lives in its own sub-package."""
