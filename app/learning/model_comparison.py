"""Model versions as plain dicts: a summary each, and two compared side by side."""

from __future__ import annotations

from app.domain.records import ModelVersion


def version_summary(v: ModelVersion) -> dict:
    return {
        "id": v.id, "created_at": v.created_at, "creator": v.creator, "arch": v.arch,
        "input_shape": list(v.input_shape), "classes": v.classes, "n_labels": v.n_labels,
        "n_train": v.n_train, "accuracy": v.metrics.get("accuracy"),
        "macro_f1": v.metrics.get("macro_f1"), "data_version": v.data_version,
        "checkpoint_sha256": v.checkpoint_sha256, "parent": v.parent_id, "seed": v.seed,
        "backbone": v.backbone_id,
        "deleted": v.deleted_at is not None,
        "evaluations": [{k: e[k] for k in ("test_set", "n", "accuracy", "macro_f1")}
                        for e in v.evaluations],
    }


def compare_versions(a: ModelVersion, b: ModelVersion) -> dict:
    """Metrics side by side, per-class differences (B minus A), shared evaluations."""
    def per_class(v: ModelVersion) -> dict:
        return v.metrics.get("per_class", {})

    classes = list(dict.fromkeys([*per_class(a), *per_class(b)]))
    diffs = {}
    for name in classes:
        pa, pb = per_class(a).get(name, {}), per_class(b).get(name, {})
        diffs[name] = {
            metric: {"a": pa.get(metric), "b": pb.get(metric),
                     "delta": (pb[metric] - pa[metric]) if metric in pa and metric in pb
                     else None}
            for metric in ("precision", "recall")
        }
    tests_a = {e["test_set"]: e for e in a.evaluations}
    shared = [
        {"test_set": e["test_set"], "a": tests_a[e["test_set"]]["accuracy"], "b": e["accuracy"]}
        for e in b.evaluations if e["test_set"] in tests_a
    ]
    return {
        "a": version_summary(a), "b": version_summary(b),
        "accuracy_delta": delta(a.metrics.get("accuracy"), b.metrics.get("accuracy")),
        "macro_f1_delta": delta(a.metrics.get("macro_f1"), b.metrics.get("macro_f1")),
        "per_class": diffs, "shared_evaluations": shared,
        "confusion_matrices": {"a": a.metrics.get("confusion_matrix"),
                               "b": b.metrics.get("confusion_matrix")},
    }


def delta(x: float | None, y: float | None) -> float | None:
    return None if x is None or y is None else y - x


