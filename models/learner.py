"""The Learner interface: what the application needs from any kind of model.

A learner is trained by :meth:`Learner.fit` into weights plus a record
(:class:`models.training.TrainResult`), rebuilt from those weights by
:meth:`Learner.from_state`, and then scores images: probabilities
``[n, classes]``, MC-dropout stacks ``[n, classes, T]`` and embeddings
``[n, d]``, all from one pass (:meth:`Learner.predict`), because for our
networks the body that makes the embedding is the expensive part and the
head that makes the probabilities is cheap (see :mod:`models.inference`).

Callers look a learner up by architecture name in :mod:`models.learners`
and talk to it only through this interface, so a new kind of model (a
self-supervised backbone with a linear head, say) is one new class and one
registry entry; nothing that trains, scores or loads versions changes.

This module imports no torch (the types below are for annotations only), so
code that merely names learners or their specs stays light.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from models.train_config import DEFAULT_DROPOUT, TrainConfig

if TYPE_CHECKING:
    import numpy as np
    import torch
    from numpy.typing import NDArray
    from torch import Tensor, nn

    from models.inference import PredictionBatch
    from models.training import TrainingPlan, TrainResult


class TrainingError(ValueError):
    """The inputs cannot be trained on (message says why)."""


class TrainingCancelled(Exception):
    """``should_stop()`` returned True; no result was produced."""


class StateMismatchError(ValueError):
    """Weights do not fit the network their spec describes (message says which)."""


@dataclass(frozen=True)
class NetworkSpec:
    """Everything, besides the weights, that rebuilds a trained network.

    A checkpoint holds tensors only; settings without tensors of their own
    (the dropout probability, the small_cnn revision) are not in it, so they
    must travel in the spec or the network comes back different: same
    predictions, other MC-dropout stacks.

    Attributes
    ----------
    arch : str
        Learner name, one of :data:`models.train_config.ARCHITECTURES`.
    num_classes : int
        Output width.
    input_size : int
        Side ``s`` of the square inputs ``[n, 3, s, s]`` the network was
        trained at; images are resized to it for scoring.
    dropout : float
        Dropout probability of the head (what MC dropout samples with).
    revision : int, optional
        ``small_cnn`` revision (:data:`models.networks.SMALL_CNN_REVISIONS`);
        None: the latest, which is what training builds now.
    """

    arch: str
    num_classes: int
    input_size: int
    dropout: float = DEFAULT_DROPOUT
    revision: int | None = None

    @classmethod
    def for_config(cls, config: TrainConfig, num_classes: int,
                   input_size: int | None = None) -> NetworkSpec:
        """The network that training with ``config`` builds now.

        Parameters
        ----------
        config : TrainConfig
        num_classes : int
        input_size : int, optional
            Needed when ``config.input_size`` is None (the size then comes
            from the images).
        """
        size = input_size or config.input_size
        if size is None:
            raise ValueError("the input size is not in the config; pass input_size")
        return cls(config.arch, num_classes, int(size), float(config.dropout))

    @classmethod
    def from_record(cls, arch: str, num_classes: int, input_shape: Sequence[int],
                    settings: Mapping[str, Any]) -> NetworkSpec:
        """The network of a stored model version.

        Parameters
        ----------
        arch : str
        num_classes : int
        input_shape : sequence of int
            ``(3, s, s)`` as recorded.
        settings : mapping
            The recorded hyper-parameters: :meth:`TrainConfig.to_dict` plus
            ``network_revision``. Versions from before revisions were
            recorded are all revision 1.
        """
        return cls(
            arch,
            int(num_classes),
            int(input_shape[-1]),
            float(settings.get("dropout", DEFAULT_DROPOUT)),
            int(settings.get("network_revision") or 1) if arch == "small_cnn" else None,
        )


Progress = Callable[[dict[str, Any]], None]


@runtime_checkable
class Learner(Protocol):
    """A trainable image classifier that also yields MC-dropout stacks and embeddings.

    The class methods make and rebuild learners; an instance is a trained
    model, in eval mode, ready to score.
    """

    @property
    def spec(self) -> NetworkSpec:
        """What rebuilds this learner from :meth:`state_dict`."""
        ...

    @property
    def network(self) -> nn.Module:
        """The torch module itself, for summaries of its layers."""
        ...

    @classmethod
    def plan(cls, labels: Sequence[int], config: TrainConfig, n_unlabeled: int = 0,
             num_classes: int | None = None) -> TrainingPlan:
        """What :meth:`fit` on these labels (class indices) and ``n_unlabeled`` unlabeled
        images will do, known before it starts."""
        ...

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
        """Train on labeled image files; the weights and record of the run.

        ``unlabeled`` image files are trained on too when
        ``config.semi_supervised`` is set (see :func:`models.training.train`).

        Raises
        ------
        TrainingError
            Inputs that cannot be trained on.
        TrainingCancelled
            ``should_stop()`` returned True.
        """
        ...

    @classmethod
    def from_state(cls, spec: NetworkSpec, state: Mapping[str, Tensor]) -> Learner:
        """The trained learner ``spec`` describes, with weights ``state``, in eval mode.

        Raises
        ------
        StateMismatchError
            ``state`` does not fit the network of ``spec``.
        """
        ...

    def state_dict(self) -> dict[str, Tensor]:
        """The weights, on the CPU, as :meth:`from_state` takes them back."""
        ...

    def predict(
        self,
        paths: Sequence[str | Path],
        *,
        batch_size: int = 256,
        mc_samples: int = 0,
        progress: Progress | None = None,
        seed: int | None = 0,
        num_workers: int = 0,
        on_error: Literal["raise", "nan"] = "raise",
        device: str | torch.device = "cpu",
        num_threads: int | None = None,
    ) -> Iterator[PredictionBatch]:
        """Score image files in streaming batches: probabilities, MC stacks, embeddings.

        See :func:`models.inference.predict` for the parameters; ``mc_samples``
        is ``T`` (0 skips the stacks).
        """
        ...

    def predict_tensors(
        self,
        images: Tensor,
        *,
        batch_size: int = 256,
        mc_samples: int = 0,
        progress: Progress | None = None,
        seed: int | None = 0,
        device: str | torch.device = "cpu",
        num_threads: int | None = None,
    ) -> Iterator[PredictionBatch]:
        """Like :meth:`predict` for images already decoded into ``[n, 3, s, s]``."""
        ...

    def predict_all(self, paths: Sequence[str | Path], **options: Any) -> PredictionBatch:
        """:meth:`predict` gathered into whole arrays (``probs [n, classes]`` etc.)."""
        ...

    def embed(self, paths: Sequence[str | Path], **options: Any) -> NDArray[np.float32]:
        """Embeddings ``[n, d]`` of image files (NaN rows for unreadable ones with
        ``on_error="nan"``)."""
        ...
