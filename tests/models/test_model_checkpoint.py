"""Checkpoints: atomic writes, sha256 verification, refusal of pickled objects."""

from __future__ import annotations

import collections
import hashlib
import pickle

import pytest
import torch

from app.learning.checkpoint_file import save_checkpoint
from models.checkpoint import (
    CheckpointError,
    file_sha256,
    load_checkpoint,
    serialize_checkpoint,
)
from models.networks import build_network


class Payload:
    """A custom class: unpickling it would run arbitrary code paths."""

    def __init__(self) -> None:
        self.value = 42


@pytest.fixture
def state():
    torch.manual_seed(0)
    return build_network("small_cnn", 4, 32).state_dict()


def test_round_trip_and_sha(tmp_path, state):
    path = tmp_path / "model.pt"
    digest = save_checkpoint(state, path)
    assert digest == file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = load_checkpoint(path, digest)
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    assert load_checkpoint(path, digest.upper())  # hex case does not matter
    # Only the final file remains: no temporary files left behind.
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_serialized_bytes_are_what_is_written(tmp_path, state):
    checkpoint = serialize_checkpoint(state)
    assert checkpoint.sha256 == hashlib.sha256(checkpoint.data).hexdigest()
    assert save_checkpoint(state, tmp_path / "m.pt") == checkpoint.sha256
    assert (tmp_path / "m.pt").read_bytes() == checkpoint.data


def test_sha_depends_on_content_not_on_file_name(tmp_path, state):
    assert save_checkpoint(state, tmp_path / "a.pt") == save_checkpoint(state, tmp_path / "b.pt")
    changed = dict(state)
    changed["fc.bias"] = state["fc.bias"] + 1
    assert save_checkpoint(changed, tmp_path / "c.pt") != file_sha256(tmp_path / "a.pt")


def test_overwrite_replaces_the_whole_file(tmp_path, state):
    path = tmp_path / "model.pt"
    path.write_bytes(b"x" * 10_000_000)
    digest = save_checkpoint(state, path)
    assert file_sha256(path) == digest


def test_one_changed_byte_is_detected(tmp_path, state):
    path = tmp_path / "model.pt"
    digest = save_checkpoint(state, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="model.pt.*sha256"):
        load_checkpoint(path, digest)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found.*gone.pt"):
        load_checkpoint(tmp_path / "gone.pt", "0" * 64)


def test_plain_pickle_with_custom_object_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"weights": Payload()}))
    # The sha256 matches, so only the weights_only loader stands in the way.
    with pytest.raises(CheckpointError, match="evil.pkl"):
        load_checkpoint(path, file_sha256(path))


def test_torch_file_with_custom_object_is_refused(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"fc.weight": torch.zeros(2), "extra": Payload()}, path)
    with pytest.raises(CheckpointError, match="foreign.pt.*weights_only"):
        load_checkpoint(path, file_sha256(path))


def test_file_that_is_not_a_state_dict_is_refused(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(CheckpointError, match="state_dict"):
        load_checkpoint(path, file_sha256(path))


def test_only_tensors_can_be_saved(tmp_path):
    with pytest.raises(TypeError, match="epoch"):
        save_checkpoint({"epoch": 3}, tmp_path / "x.pt")
    assert list(tmp_path.iterdir()) == []


def test_ordered_dict_from_a_model_is_accepted(tmp_path, state):
    assert isinstance(state, collections.OrderedDict)
    digest = save_checkpoint(state, tmp_path / "m.pt")
    assert list(load_checkpoint(tmp_path / "m.pt", digest)) == list(state)
