"""Conv-TasNet stem separation: model, checkpoints, chunked inference."""
