"""The learners by architecture name: the one place a new kind of model is added.

Callers never build or load a network themselves: they ask
:func:`learner_type` for the class that trains an architecture and
:func:`learner_from_state` for a trained learner, so every trained network
comes back through the same code, whoever saved it (a model version, a
simulation round).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from torch import Tensor

from models.learner import Learner, NetworkSpec
from models.network_learner import NetworkLearner
from models.train_config import ARCHITECTURES

#: Learner class per architecture name. Read-only: adding a learner is an edit
#: here (and its name in :data:`models.train_config.ARCHITECTURES`, which the
#: command line offers without importing torch).
LEARNERS: Mapping[str, type[Learner]] = MappingProxyType({
    "small_cnn": NetworkLearner,
    "resnet18": NetworkLearner,
})


def learner_type(arch: str) -> type[Learner]:
    """The learner class of ``arch``.

    Raises
    ------
    ValueError
        ``arch`` is not one of :data:`models.train_config.ARCHITECTURES`.
    """
    try:
        return LEARNERS[arch]
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {ARCHITECTURES}"
                         ) from None


def learner_from_state(spec: NetworkSpec, state: Mapping[str, Tensor]) -> Learner:
    """The trained learner ``spec`` describes, with weights ``state``, in eval mode.

    Raises
    ------
    ValueError
        Unknown architecture.
    models.learner.StateMismatchError
        ``state`` does not fit the network of ``spec``.
    """
    return learner_type(spec.arch).from_state(spec, state)
