"""Genre and track analysis: the seed's 26 librosa features (`features`), GenreNet (`model`,
`predict`), BPM/key/loudness analysis (`analysis`). Only `model` and `predict` import TensorFlow,
and only when a model is built or loaded, so analysis and feature extraction stay light."""
