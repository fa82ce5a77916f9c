"""The learner behind ``small_cnn`` and ``resnet18``: a network of :mod:`models.networks`.

Training is :func:`models.training.train`, scoring is :mod:`models.inference`;
this class binds them to one network and the :class:`NetworkSpec` that
rebuilds it, which is the single way a network comes back from its weights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from torch import Tensor, nn

from models import inference, training
from models.inference import PredictionBatch
from models.learner import NetworkSpec, Progress, StateMismatchError
from models.networks import build_network
from models.train_config import TrainConfig
from models.training import TrainingPlan, TrainResult


class NetworkLearner:
    """A trained network with ``embed`` / ``classify`` halves and the spec that rebuilds it.

    Implements :class:`models.learner.Learner`.

    Parameters
    ----------
    spec : NetworkSpec
    network : nn.Module
        Built from ``spec`` (see :meth:`from_state`); put in eval mode here.
    """

    def __init__(self, spec: NetworkSpec, network: nn.Module) -> None:
        self._spec = spec
        self._network = network.eval()

    @property
    def spec(self) -> NetworkSpec:
        """What rebuilds this learner from :meth:`state_dict`."""
        return self._spec

    @property
    def network(self) -> nn.Module:
        """The torch module itself."""
        return self._network

    @classmethod
    def plan(cls, labels: Sequence[int], config: TrainConfig, n_unlabeled: int = 0,
             num_classes: int | None = None) -> TrainingPlan:
        """See :func:`models.training.plan_training`."""
        return training.plan_training(labels, config, n_unlabeled, num_classes)

    @classmethod
    def fit(
        cls,
        paths: Sequence[str | Path],
        labels: Sequence[int],
        classes: Sequence[str],
        config: TrainConfig,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] | None = None,
        *,
        unlabeled: Sequence[str | Path] = (),
    ) -> TrainResult:
        """See :func:`models.training.train`."""
        return training.train(paths, labels, classes, config, progress, should_stop,
                              unlabeled=unlabeled)

    @classmethod
    def from_state(cls, spec: NetworkSpec, state: Mapping[str, Tensor]) -> NetworkLearner:
        """Build ``spec``'s network (every field of it) and load ``state`` strictly.

        Raises
        ------
        StateMismatchError
            A tensor is missing, unexpected or of another shape; the message
            is torch's first detail line (torch lists every mismatching tensor
            over many lines).
        """
        network = build_network(spec.arch, spec.num_classes, spec.input_size, pretrained=False,
                                dropout=spec.dropout, revision=spec.revision)
        try:
            network.load_state_dict(state)
        except RuntimeError as exc:
            first = next((line.strip() for line in str(exc).splitlines()[1:] if line.strip()),
                         str(exc))
            raise StateMismatchError(first) from exc
        return cls(spec, network)

    def state_dict(self) -> dict[str, Tensor]:
        """The weights, detached copies on the CPU."""
        return {k: v.detach().cpu().clone() for k, v in self._network.state_dict().items()}

    def predict(self, paths: Sequence[str | Path], *, batch_size: int = 256,
                mc_samples: int = 0, progress: Progress | None = None,
                **options: Any) -> Iterator[PredictionBatch]:
        """See :func:`models.inference.predict`; the input size is the spec's."""
        return inference.predict(self._network, paths, self._spec.input_size, batch_size,
                                 mc_samples, progress, **options)

    def predict_tensors(self, images: Tensor, *, batch_size: int = 256, mc_samples: int = 0,
                        progress: Progress | None = None,
                        **options: Any) -> Iterator[PredictionBatch]:
        """See :func:`models.inference.predict_tensors`."""
        return inference.predict_tensors(self._network, images, batch_size, mc_samples,
                                         progress, **options)

    def predict_all(self, paths: Sequence[str | Path], **options: Any) -> PredictionBatch:
        """See :func:`models.inference.predict_all`."""
        return inference.predict_all(self._network, paths, self._spec.input_size, **options)

    def embed(self, paths: Sequence[str | Path], **options: Any) -> NDArray[np.float32]:
        """Embeddings ``[n, d]``; the cheap head runs too, without MC passes."""
        return self.predict_all(paths, **{**options, "mc_samples": 0}).embeddings

