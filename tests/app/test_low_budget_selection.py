"""typiclust, probcover and auto on a real project: rank, next and queue through the CLI."""

from __future__ import annotations

import json
import math

import pytest

from app.labeling.queues import DEFAULT_BATCH_SIZE
from app.learning.ranking import rank_unlabeled
from app.pool.importer import import_images
from app.project.workspace import Workspace
from sampling.strategies import AUTO_SWITCH_LABELS_PER_CLASS, AUTO_TYPICAL, AUTO_UNCERTAIN
from tests.app.test_cold_start import CLUSTERS, write_clustered_pool
from tests.conftest import run_cli_in_process


@pytest.fixture
def clustered(tmp_path):
    cluster_of = write_clustered_pool(tmp_path / "pool")
    workspace = Workspace.init(tmp_path / "proj", ["a", "b"])
    import_images(workspace, [tmp_path / "pool"], workers=1)
    clusters = {s.id: cluster_of[i] for i, s in enumerate(sorted(workspace.samples(),
                                                                   key=lambda s: s.path))}
    yield workspace, clusters
    workspace.close()


def _rank_rows(workspace, strategy: str, top: int) -> list[dict]:
    return json.loads(run_cli_in_process("rank", workspace.root, "--strategy", strategy,
                                         "--top", str(top), "--json"))


@pytest.mark.parametrize("strategy", ["typiclust", "probcover", "auto"])
def test_typical_strategies_rank_without_a_model_one_pick_per_cluster(clustered, strategy):
    workspace, clusters = clustered
    rows = _rank_rows(workspace, strategy, CLUSTERS)
    assert len({clusters[row["sample_id"]] for row in rows}) == CLUSTERS
    # Ranked by the strategy itself on the label-free embedding, not the cold-start stand-in.
    assert all(row["strategy"] == strategy and "cold_start" not in row for row in rows)


def test_labeled_clusters_are_left_to_the_others(clustered):
    workspace, clusters = clustered
    first = {sid for sid, c in sorted(clusters.items()) if c == 0}
    workspace.label(min(first), "a", "tester")
    ranked = rank_unlabeled(workspace, "typiclust", CLUSTERS - 1)
    assert {clusters[r.sample_id] for r in ranked} == set(range(1, CLUSTERS))


def test_auto_switches_from_typical_to_margin_at_the_measured_budget(clustered):
    workspace, clusters = clustered
    classes = len(workspace.classes())
    switch = math.ceil(AUTO_SWITCH_LABELS_PER_CLASS * classes)  # labels in all
    by_cluster: dict[int, list[int]] = {}
    for sid, cluster in sorted(clusters.items()):
        by_cluster.setdefault(cluster, []).append(sid)
    order = [ids[i] for i in range(len(next(iter(by_cluster.values()))))
             for ids in by_cluster.values()]
    labeled = switch - 3
    for sid in order[:labeled]:
        workspace.label(sid, "ab"[clusters[sid] % 2], "tester")
    run_cli_in_process("train", workspace.root, "--epochs", "1", "--min-steps", "0",
                       "--no-semi-supervised")
    # A batch of 2 leaves the labels one short of the switch: typical picks.
    below = _rank_rows(workspace, "auto", 2)
    assert below == [dict(row, strategy="auto")
                     for row in _rank_rows(workspace, AUTO_TYPICAL, 2)]
    # A batch of 3 reaches it: margin's picks, from the model just trained.
    above = _rank_rows(workspace, "auto", 3)
    assert [row["sample_id"] for row in above] == [
        row["sample_id"] for row in _rank_rows(workspace, AUTO_UNCERTAIN, 3)]


def test_next_and_queue_accept_the_new_strategies(clustered):
    workspace, clusters = clustered
    rows = json.loads(run_cli_in_process("queue", workspace.root, "--kind", "uncertain",
                                         "--strategy", "auto", "--top", str(CLUSTERS),
                                         "--json"))
    # The queue is auto's batch itself (its default size), not the cold-start stand-in;
    # that batch is the whole small pool, largest k-means clusters first.
    batch = _rank_rows(workspace, "auto", min(DEFAULT_BATCH_SIZE, workspace.sample_count()))
    assert [row["sample_id"] for row in rows] == [row["sample_id"] for row in batch[:CLUSTERS]]
    assert len({clusters[row["sample_id"]] for row in rows}) > 1  # not one cluster in id order
    assert all(row["strategy"] == "auto" and "cold_start" not in row for row in rows)
    claimed = json.loads(run_cli_in_process("next", workspace.root, "--annotator", "ann",
                                            "--claim", "3", "--strategy", "typiclust", "--json"))
    assert len({row["sample_id"] for row in claimed}) == 3
    assert all(row["strategy"] == "typiclust" and "cold_start" not in row for row in claimed)
