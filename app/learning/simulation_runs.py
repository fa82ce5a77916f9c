"""Where a simulation keeps its results in OUT, so an interrupted run resumes.

Layout::

    OUT/simulation.json            the settings that determine the results
    OUT/runs/<strategy>-seed<S>.json   rounds completed so far, one per round
    OUT/runs/<strategy>-seed<S>.pt     the latest round's weights (to continue or extend)
    OUT/curves.json, curves.csv, curves.png

Every file is replaced atomically (:mod:`app.files.atomic_write`), so a run
killed at any moment leaves either the previous or the new version. Strategies
and seeds are not part of the settings: each has its own file, so a later
call may add a strategy or a seed to the same OUT and reuse the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.files.atomic_write import write_text_atomic
from app.project.workspace import WorkspaceError

MANIFEST = "simulation.json"
RUNS = "runs"
REPORT_FILES = ("curves.json", "curves.csv", "curves.png")


def run_path(out: Path, strategy: str, seed: int) -> Path:
    """The JSON file of one (strategy, seed) run."""
    return out / RUNS / f"{strategy}-seed{seed}.json"


def state_path(out: Path, strategy: str, seed: int) -> Path:
    """The weights of the last completed round of a run."""
    return out / RUNS / f"{strategy}-seed{seed}.pt"


def normalised(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` as they read back from JSON (tuples become lists), for comparing."""
    return json.loads(json.dumps(dict(settings)))


def differences(stored: Mapping[str, Any], wanted: Mapping[str, Any], prefix: str = ""
                ) -> list[str]:
    """``"key: old -> new"`` for every setting that differs (nested keys as ``a.b``)."""
    changed = []
    for key in sorted(set(stored) | set(wanted)):
        old, new = stored.get(key), wanted.get(key)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            changed += differences(old, new, f"{prefix}{key}.")
        elif old != new:
            changed.append(f"{prefix}{key}: {old!r} -> {new!r}")
    return changed


def prepare_out(out: Path, settings: Mapping[str, Any], *, fresh: bool) -> None:
    """Claim ``out`` for a simulation with ``settings``, or check that it already is.

    Parameters
    ----------
    out : Path
        The output folder; created when missing.
    settings : mapping
        Everything that determines a run's numbers (JSON-serialisable).
    fresh : bool
        Discard the results of an earlier simulation in ``out`` first (only
        the files this module writes are removed; anything else is left).

    Raises
    ------
    WorkspaceError
        ``out`` holds results of a simulation with other settings (listed),
        and ``fresh`` is False; or ``out`` is a file.
    """
    if out.exists() and not out.is_dir():
        raise WorkspaceError(f"{out}: exists and is not a folder")
    wanted = normalised(settings)
    manifest = out / MANIFEST
    if fresh:
        discard_results(out)
    elif manifest.exists():
        stored = _read_json(manifest).get("settings", {})
        changed = differences(stored, wanted)
        if changed:
            raise WorkspaceError(
                f"{out} holds a simulation with other settings ({'; '.join(changed)}); "
                "pass --fresh to discard it, or choose another --out"
            )
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(manifest, json.dumps({"settings": wanted}, indent=2) + "\n")


def discard_results(out: Path) -> None:
    """Delete the files a simulation wrote in ``out``, and nothing else."""
    runs = out / RUNS
    if runs.is_dir():
        for path in list(runs.glob("*-seed*.json")) + list(runs.glob("*-seed*.pt")):
            path.unlink()
        if not any(runs.iterdir()):
            runs.rmdir()
    # backbone.*: app.learning.simulation_backbone's pretrained weights.
    for name in (MANIFEST, *REPORT_FILES, "backbone.pt", "backbone.json"):
        (out / name).unlink(missing_ok=True)


def load_run(out: Path, strategy: str, seed: int, settings: Mapping[str, Any]
             ) -> list[dict[str, Any]]:
    """The rounds already completed for (strategy, seed); empty when none.

    Raises
    ------
    WorkspaceError
        The run file was written with other settings or is unreadable.
    """
    path = run_path(out, strategy, seed)
    if not path.exists():
        return []
    document = _read_json(path)
    changed = differences(document.get("settings", {}), normalised(settings))
    if changed:
        raise WorkspaceError(
            f"{path} was written with other settings ({'; '.join(changed)}); "
            "pass --fresh to discard it"
        )
    return list(document.get("rounds", []))


def save_run(out: Path, strategy: str, seed: int, settings: Mapping[str, Any],
             rounds: list[dict[str, Any]]) -> None:
    """Persist the rounds of (strategy, seed) completed so far."""
    document = {"strategy": strategy, "seed": seed, "settings": normalised(settings),
                "rounds": rounds}
    write_text_atomic(run_path(out, strategy, seed), json.dumps(document) + "\n")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise WorkspaceError(f"{path}: unreadable ({err}); pass --fresh to discard it") from err
    if not isinstance(document, dict):
        raise WorkspaceError(f"{path}: not a simulation file; pass --fresh to discard it")
    return document
