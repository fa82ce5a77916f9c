"""torch's thread count is set only for a block and always restored.

Every test starts from a count other than the 1 that training and the
simulation use, so a count left behind shows.
"""

from __future__ import annotations

import pytest
import torch

from models.data import ImageReadError
from models.inference import predict
from models.networks import build_network
from models.threads import torch_threads
from models.training import TrainConfig, TrainingCancelled, train

CALLERS_COUNT = 3


@pytest.fixture
def callers_count():
    """The caller runs with 3 threads; whatever a test leaves is undone after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(CALLERS_COUNT)
    yield CALLERS_COUNT
    torch.set_num_threads(before)


def test_the_block_runs_with_the_count_and_the_callers_comes_back(callers_count):
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == callers_count


def test_the_callers_count_comes_back_when_the_block_raises(callers_count):
    with pytest.raises(KeyError), torch_threads(2):
        assert torch.get_num_threads() == 2
        raise KeyError("boom")
    assert torch.get_num_threads() == callers_count


def test_none_keeps_the_count_yet_undoes_a_change_made_inside(callers_count):
    with torch_threads(None):
        assert torch.get_num_threads() == callers_count
        torch.set_num_threads(1)
    assert torch.get_num_threads() == callers_count


def test_it_decorates_a_function_once_per_call(callers_count):
    seen = []

    @torch_threads(1)
    def work():
        seen.append(torch.get_num_threads())

    work()
    work()
    assert seen == [1, 1]
    assert torch.get_num_threads() == callers_count


def test_a_training_run_restores_the_count(digits, digit_classes, callers_count):
    paths, labels = digits
    seen = []
    train(paths[:60], labels[:60].tolist(), digit_classes,
          TrainConfig(epochs=1, batch_size=32, input_size=16, num_threads=1),
          progress=lambda _: seen.append(torch.get_num_threads()))
    assert seen == [1]
    assert torch.get_num_threads() == callers_count


def test_a_cancelled_training_run_restores_the_count(digits, digit_classes, callers_count):
    paths, labels = digits
    with pytest.raises(TrainingCancelled):
        train(paths[:60], labels[:60].tolist(), digit_classes,
              TrainConfig(epochs=1, batch_size=32, input_size=16, num_threads=1),
              should_stop=lambda: True)
    assert torch.get_num_threads() == callers_count


def test_scoring_restores_the_count_between_batches_and_after_an_error(tmp_path, digits,
                                                                        callers_count):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    network = build_network("small_cnn", 10, 16)
    batches = predict(network, [*digits[0][:4], str(broken)], 16, batch_size=4, num_threads=1)
    next(batches)
    # Between batches the caller's code runs with its own count.
    assert torch.get_num_threads() == callers_count
    with pytest.raises(ImageReadError):
        next(batches)
    assert torch.get_num_threads() == callers_count
