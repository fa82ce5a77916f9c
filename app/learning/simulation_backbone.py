"""The pretrained backbone of a simulation: learned once from the pool, shared by every run.

With ``simulate --pretrained`` the pool's images (their labels unseen) train
one backbone (:mod:`models.pretrain`, the settings ``labelloop pretrain``
derives), and every round of every strategy and of random starts its
classifier from it: the recipe stays the same for all, so a ratio still
compares selection only. The weights are kept in ``OUT/backbone.pt`` with
their sha256 in ``OUT/backbone.json``, checked before a resumed simulation
loads them.
"""

from __future__ import annotations

import json
from pathlib import Path

from torch import Tensor

from app.files.atomic_write import atomic_file
from app.learning.checkpoint_file import save_checkpoint
from app.learning.simulation_data import SimulationData
from app.project.workspace import WorkspaceError
from models.checkpoint import CheckpointError, load_checkpoint
from models.pretrain import pretrain_backbone
from models.pretrain_config import DEFAULT_TIME_BUDGET_S, plan_pretraining

CHECKPOINT = "backbone.pt"
RECORD = "backbone.json"


def simulation_backbone(data: SimulationData, out: Path, arch: str, *, seed: int = 0,
                        time_budget_s: float = DEFAULT_TIME_BUDGET_S) -> dict[str, Tensor]:
    """The simulation's backbone: loaded from ``out`` when recorded there, else pretrained.

    Raises
    ------
    WorkspaceError
        A recorded checkpoint whose sha256 or settings no longer match (it
        is pretrained again only with ``--fresh``).
    """
    record_path, checkpoint = out / RECORD, out / CHECKPOINT
    wanted = {"arch": arch, "input_size": data.input_size, "seed": seed,
              "pool": data.fingerprints.get("pool"), "time_budget_s": time_budget_s}
    if record_path.exists():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if record.get("settings") != wanted:
            raise WorkspaceError(f"{record_path}: a backbone pretrained with other settings; "
                                 "run with --fresh")
        try:
            return load_checkpoint(checkpoint, record["sha256"])
        except CheckpointError as exc:
            raise WorkspaceError(str(exc)) from exc
    config = plan_pretraining(len(data.pool_paths), data.input_size, arch=arch, seed=seed,
                              time_budget_s=time_budget_s)
    result = pretrain_backbone(data.pool_paths, config, images=data.pool_images)
    out.mkdir(parents=True, exist_ok=True)
    sha = save_checkpoint(result.state_dict, checkpoint)
    with atomic_file(record_path, "w") as handle:
        json.dump({"settings": wanted, "sha256": sha, "steps_run": result.steps_run,
                   "duration_s": result.duration_s, "notes": list(result.notes)}, handle)
    return result.state_dict
