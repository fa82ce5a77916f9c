"""Caches are checked before use: a damaged one is rebuilt and gives the same answer."""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import pytest

from app.learning.checkpoint_file import save_checkpoint
from app.learning.model_registry import score_cache_dir
from app.learning.scoring import cached_scores, ensure_scores
from app.targeted.similar import CHECKSUMS_FILE, INDEX_FILE, index_dir, pool_index, similar_samples
from models.checkpoint import file_sha256, load_checkpoint
from tests.app.test_confinement import register_small_cnn


@pytest.fixture
def scored(project):
    """The project with a real (untrained) model version and its pool scores cached."""
    version = project.model_version(register_small_cnn(project))
    scores = ensure_scores(project, version, 4)
    return project, version, scores


def _damage(path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:  # flip one byte in the payload: same size, still parseable
        path.write_bytes(data[:-4] + bytes([data[-4] ^ 0xFF]) + data[-3:])


@pytest.mark.parametrize("name", ["probs", "embeddings", "sample_ids"])
@pytest.mark.parametrize("how", ["truncate", "flip"])
def test_a_damaged_score_file_is_rebuilt_to_the_same_scores(scored, name, how):
    ws, version, first = scored
    _damage(score_cache_dir(ws, version.id) / f"{name}.npy", how)
    assert cached_scores(ws, version) is None  # never read as scores
    again = ensure_scores(ws, version, 4)
    for field in ("sample_ids", "probs", "mc_probs", "embeddings"):
        np.testing.assert_array_equal(getattr(again, field), getattr(first, field))
    # ...and the rebuilt cache is whole again.
    cached = cached_scores(ws, version)
    assert cached is not None
    np.testing.assert_array_equal(cached.probs, first.probs)


def test_a_score_cache_without_recorded_hashes_is_rebuilt(scored):
    ws, version, _ = scored
    meta_path = score_cache_dir(ws, version.id) / "meta.json"
    meta_path.write_text(meta_path.read_text().replace('"sha256"', '"unchecked"'))
    assert cached_scores(ws, version) is None


@pytest.mark.parametrize("damaged", [INDEX_FILE, "sample_ids.npy", CHECKSUMS_FILE])
def test_a_damaged_similarity_index_is_rebuilt_with_the_same_answer(scored, damaged):
    ws, version, scores = scored
    query = ws.samples()[0].id
    before = [(r.sample_id, round(r.score, 5)) for r in similar_samples(ws, query, 5)]
    assert not pool_index(ws, version, scores).rebuilt  # reused while intact
    _damage(index_dir(ws, version.id) / damaged, "truncate")
    assert pool_index(ws, version, scores).rebuilt
    # The first call rebuilt it; the answer is what it was before the damage.
    _damage(index_dir(ws, version.id) / damaged, "flip")
    after = [(r.sample_id, round(r.score, 5)) for r in similar_samples(ws, query, 5)]
    assert after == before
    assert not pool_index(ws, version, scores).rebuilt


def test_a_checkpoint_is_opened_once_and_the_hashed_bytes_are_loaded(tmp_path):
    import torch

    path = tmp_path / "w.pt"
    sha = save_checkpoint({"w": torch.arange(4.0)}, path)
    assert sha == file_sha256(path)
    opened: list[str] = []

    def audit(event: str, args: tuple) -> None:
        if event == "open" and str(args[0]) == str(path):
            opened.append(event)

    sys.addaudithook(audit)  # the interpreter's own record of every open()
    state = load_checkpoint(path, sha)
    assert len(opened) == 1
    assert torch.equal(state["w"], torch.arange(4.0))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
