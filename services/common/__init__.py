"""Code shared by every StemDeck service: audio I/O, paths and settings."""
