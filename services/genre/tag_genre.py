"""GTZAN's ten genres from the music tagger's tags: a hand-written mapping, and calibration.

Neither tagger names all ten genres. The Million Song Dataset model knows rock, pop, metal,
jazz, Hip-Hop, country, blues, dance and electronic styles but not classical (it calls a string
orchestra "jazz"); the MagnaTagATune model knows classical. A genre's score is the sum of the
probabilities of the tags that name it or one of its sub-styles (`GENRE_TAGS`); nothing names
reggae, so reggae is never the answer. GTZAN's "disco" collects the dance and electronic tags,
because that is the class such music lands in when it has to be one of the ten.

Scores become probabilities through `softmax(log(score + EPSILON) / T)`: the temperature T is
fitted on labelled validation tracks (`fit_temperature`); it changes how sure the answer is,
never which genre wins. A track whose best genre is below `UNCERTAIN_BELOW` is reported as
uncertain: no genre is then more likely than all the others together. No TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

GENRES = (
    "blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock",
)  # fmt: skip
#: genre -> the tags that vote for it ("MSD_musicnn:tag" or "MTT_musicnn:tag").
GENRE_TAGS: dict[str, tuple[str, ...]] = {
    "blues": ("MSD_musicnn:blues",),
    "classical": ("MTT_musicnn:classical", "MTT_musicnn:classic"),
    "country": ("MSD_musicnn:country", "MTT_musicnn:country"),
    "disco": (
        "MSD_musicnn:dance", "MSD_musicnn:House", "MSD_musicnn:electronic", "MSD_musicnn:electro",
        "MSD_musicnn:funk", "MTT_musicnn:techno", "MTT_musicnn:dance",
    ),
    "hiphop": ("MSD_musicnn:Hip-Hop", "MSD_musicnn:rnb"),
    "jazz": ("MSD_musicnn:jazz",),
    "metal": ("MSD_musicnn:metal", "MSD_musicnn:heavy metal", "MTT_musicnn:metal"),
    "pop": ("MSD_musicnn:pop", "MSD_musicnn:indie pop", "MTT_musicnn:pop"),
    "reggae": (),
    "rock": (
        "MSD_musicnn:rock", "MSD_musicnn:classic rock", "MSD_musicnn:alternative rock",
        "MSD_musicnn:indie rock", "MSD_musicnn:hard rock", "MSD_musicnn:punk",
        "MSD_musicnn:Progressive rock", "MTT_musicnn:rock",
    ),
}  # fmt: skip
#: Floor added to a score before its log, so a genre no tag names gets a finite logit.
EPSILON = 1e-3
#: Below this calibrated probability the best genre is shown as uncertain.
UNCERTAIN_BELOW = 0.5


def mapping_matrix(tag_keys: Sequence[str], mapping: Mapping[str, Sequence[str]]) -> np.ndarray:
    """(tags, genres) 0/1 matrix: which tag votes for which genre. ValueError for a tag the
    taggers do not have (a typo would otherwise silently never vote)."""
    index = {key: i for i, key in enumerate(tag_keys)}
    matrix = np.zeros((len(tag_keys), len(mapping)))
    for column, tags in enumerate(mapping.values()):
        for tag in tags:
            if tag not in index:
                raise ValueError(f"the mapping names tag {tag!r}, which no loaded tagger has")
            matrix[index[tag], column] = 1.0
    return matrix


def genre_logits(tag_probabilities: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """log(summed tag probabilities + EPSILON) per genre for (..., tags) probabilities."""
    return np.log(np.asarray(tag_probabilities) @ matrix + EPSILON)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def set_likelihood(probabilities: np.ndarray, accepted: np.ndarray) -> np.ndarray:
    """Probability each row gives to its set of accepted genres ((n, genres) 0/1 `accepted`):
    a track labelled Pop/Rock is explained by pop or rock alike."""
    return (np.asarray(probabilities) * accepted).sum(axis=-1)


def fit_temperature(logits: np.ndarray, accepted: np.ndarray) -> float:
    """The temperature minimising the mean negative log-likelihood of the accepted sets
    (temperature scaling, Guo et al. 2017, "On calibration of modern neural networks"; with
    set-valued labels). A 1-D search over log T in [0.05, 20]: one parameter needs no more."""
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 601))
    losses = [-np.mean(np.log(set_likelihood(softmax(logits, t), accepted) + 1e-12)) for t in grid]
    return float(grid[int(np.argmin(losses))])
