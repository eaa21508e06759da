"""Training and evaluation of StemDeck's models (optional extras, not on the serving path)."""
