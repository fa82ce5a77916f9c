"""``labelloop models``: list, show, compare and delete model versions."""

from __future__ import annotations

import argparse

from app.cli.output import print_json, print_table, shown
from app.learning.model_comparison import compare_versions, delta, version_summary
from app.project.workspace import Workspace


def register(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser("models", help="the model registry: list, show, compare, delete")
    models.add_argument("project")
    action = models.add_mutually_exclusive_group()
    action.add_argument("--show", type=int, metavar="V",
                        help="structure: module tree, output shapes, parameters, input shape")
    action.add_argument("--compare", type=int, nargs=2, metavar=("A", "B"))
    action.add_argument("--delete", type=int, metavar="V",
                        help="remove its checkpoint and caches; the row stays, marked deleted")
    models.add_argument("--all", action="store_true", help="list deleted versions too")
    models.add_argument("--json", action="store_true")
    models.set_defaults(run=run_models)


def run_models(args: argparse.Namespace) -> int:
    with Workspace.open(args.project) as workspace:
        if args.show is not None:
            return _show(workspace, args.show, args.json)
        if args.compare:
            return _compare(workspace, *args.compare, as_json=args.json)
        if args.delete is not None:
            from app.learning.model_registry import delete_version

            gone = delete_version(workspace, args.delete)
            print(f"deleted model version {gone.id} (checkpoint and caches removed, "
                  "row kept for lineage)")
            return 0
        versions = workspace.model_versions(include_deleted=args.all)
    if args.json:
        print_json([version_summary(v) for v in versions])
        return 0
    if not versions:
        print("no model versions yet; run `labelloop train`")
        return 0
    print_table(
        ["id", "created", "creator", "arch", "labels", "accuracy", "macro_f1", "data", "sha256",
         "parent", "backbone"],
        [[v.id, v.created_at[:19], v.creator, v.arch, v.n_labels, v.metrics.get("accuracy"),
          v.metrics.get("macro_f1"), v.data_version[:10], v.checkpoint_sha256[:10],
          v.parent_id, v.backbone_id] for v in versions],
    )
    return 0


def _show(workspace: Workspace, version_id: int, as_json: bool) -> int:
    from app.learning.model_registry import load_network
    from models.summary import describe_network, format_summary

    version = workspace.model_version(version_id)
    rows = describe_network(load_network(workspace, version), version.input_shape)
    if as_json:
        print_json({**version_summary(version), "hyperparameters": version.hyperparameters,
                    "torch_version": version.torch_version,
                    "torchvision_version": version.torchvision_version, "structure": rows})
        return 0
    print(f"model version {version.id}: {version.arch}, input shape "
          f"{tuple(version.input_shape)}, classes {shown(', '.join(version.classes))}")
    print(format_summary(rows, version.input_shape))
    return 0


def _compare(workspace: Workspace, a_id: int, b_id: int, *, as_json: bool) -> int:
    a, b = workspace.model_version(a_id), workspace.model_version(b_id)
    result = compare_versions(a, b)
    if as_json:
        print_json(result)
        return 0
    rows = [
        ["labels", a.n_labels, b.n_labels, b.n_labels - a.n_labels],
        ["accuracy", a.metrics.get("accuracy"), b.metrics.get("accuracy"),
         result["accuracy_delta"]],
        ["macro_f1", a.metrics.get("macro_f1"), b.metrics.get("macro_f1"),
         result["macro_f1_delta"]],
    ]
    rows += [[f"test {e['test_set']}", e["a"], e["b"], delta(e["a"], e["b"])]
             for e in result["shared_evaluations"]]
    print_table(["metric", f"v{a.id}", f"v{b.id}", "delta"], rows)
    print()
    print_table(
        ["class", "precision A", "precision B", "delta", "recall A", "recall B", "delta"],
        [[name, d["precision"]["a"], d["precision"]["b"], d["precision"]["delta"],
          d["recall"]["a"], d["recall"]["b"], d["recall"]["delta"]]
         for name, d in result["per_class"].items()],
    )
    return 0

