"""The cold-start batch: diverse picks before any model exists."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import app.learning.cold_start as cold_start
from app.learning.cold_start import cold_start_picks, pool_embedding
from app.learning.pick_reasons import ColdStartReason
from app.learning.ranking import rank_unlabeled, unlabeled_ids
from app.pool.importer import import_images
from app.project.workspace import Workspace
from tests.conftest import run_cli_in_process

CLUSTERS = 6
PER_CLUSTER = 15


def write_clustered_pool(folder: Path, *, clusters: int = CLUSTERS, per_cluster: int = PER_CLUSTER,
                         size: int = 20, colour: bool = False, seed: int = 0) -> list[int]:
    """Tight clusters of images (a random base picture plus faint noise), cluster by cluster.

    File names sort cluster by cluster, so import order walks one cluster at a
    time; returns the cluster of each file in that order.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    shape = (size, size, 3) if colour else (size, size)
    cluster_of = []
    for c in range(clusters):
        base = rng.integers(0, 256, size=shape)
        for i in range(per_cluster):
            noisy = np.clip(base + rng.integers(-6, 7, size=shape), 0, 255).astype(np.uint8)
            Image.fromarray(noisy).save(folder / f"c{c:02d}_{i:03d}.png")
            cluster_of.append(c)
    return cluster_of


@pytest.fixture
def clustered(tmp_path):
    cluster_of = write_clustered_pool(tmp_path / "pool")
    workspace = Workspace.init(tmp_path / "proj", ["a", "b"])
    import_images(workspace, [tmp_path / "pool"], workers=1)
    # Sample ids follow the sorted file names, hence the clusters.
    clusters = {s.id: cluster_of[i] for i, s in enumerate(sorted(workspace.samples(),
                                                                   key=lambda s: s.path))}
    yield workspace, clusters
    workspace.close()


def test_the_first_k_picks_cover_k_clusters_where_import_order_covers_one(clustered):
    workspace, clusters = clustered
    picks = cold_start_picks(workspace, unlabeled_ids(workspace), CLUSTERS)
    assert len({clusters[int(i)] for i in picks.ids}) == CLUSTERS
    first_in_import_order = unlabeled_ids(workspace)[:CLUSTERS]
    assert len({clusters[int(i)] for i in first_in_import_order}) == 1
    assert np.isinf(picks.distances[0]) and np.all(np.isfinite(picks.distances[1:]))
    assert np.all(np.diff(picks.distances[1:]) <= 1e-6)  # farthest first


def test_labeled_samples_count_as_covered(clustered):
    workspace, clusters = clustered
    for sid, c in clusters.items():
        if c < CLUSTERS - 1 and sid % PER_CLUSTER == 3:
            workspace.label(sid, "a", "t")  # one label in every cluster but the last
    labeled_clusters = {clusters[s] for s in workspace.current_labels()}
    assert labeled_clusters == set(range(CLUSTERS - 1))
    picks = cold_start_picks(workspace, unlabeled_ids(workspace), 1)
    assert clusters[int(picks.ids[0])] == CLUSTERS - 1
    assert np.isfinite(picks.distances[0])


def test_sizes_come_from_the_data(clustered, tmp_path):
    workspace, _ = clustered
    embedding = pool_embedding(workspace)
    assert (embedding.side, embedding.channels) == (20, 1)  # grey 20 px images, kept whole
    # Six tight clusters: a handful of axes explain the variance, far fewer than 400 pixels.
    assert 2 <= embedding.dims < CLUSTERS + 3
    write_clustered_pool(tmp_path / "colour", size=64, colour=True, clusters=2, per_cluster=4)
    with Workspace.init(tmp_path / "colour-proj", ["a", "b"]) as colour:
        import_images(colour, [tmp_path / "colour"], workers=1)
        found = pool_embedding(colour)
    # Colour is kept; the side is capped so a vector has at most MAX_FEATURES values.
    assert found.channels == 3
    assert found.side == int(np.sqrt(cold_start.MAX_FEATURES / 3)) < 64


def test_the_embedding_is_cached_by_what_it_was_built_from(clustered, tmp_path, monkeypatch):
    workspace, _ = clustered
    first = pool_embedding(workspace)
    files = list((workspace.cache_dir / "cold_start").glob("*.npz"))
    assert len(files) == 1

    def no_decoding(path):
        raise AssertionError(f"decoded {path} although the cache is current")

    monkeypatch.setattr(cold_start, "load_image", no_decoding)
    again = pool_embedding(workspace)
    np.testing.assert_array_equal(again.ids, first.ids)
    np.testing.assert_array_equal(again.vectors, first.vectors)
    monkeypatch.undo()

    write_clustered_pool(tmp_path / "more", clusters=1, per_cluster=2, seed=9)
    import_images(workspace, [tmp_path / "more"], workers=1)
    grown = pool_embedding(workspace)  # a new pool: a new key, the old file goes
    assert grown.ids.size == first.ids.size + 2
    assert [f.name for f in (workspace.cache_dir / "cold_start").glob("*.npz")] != \
        [f.name for f in files]
    assert len(list((workspace.cache_dir / "cold_start").glob("*.npz"))) == 1


def test_an_unreadable_image_is_left_out_with_its_reason(clustered, capsys):
    workspace, _ = clustered
    broken = workspace.samples()[4]
    workspace.resolve(broken.path).write_bytes(b"not a png")
    embedding = pool_embedding(workspace)
    assert broken.id not in embedding.ids and broken.id in embedding.unreadable
    assert "not an image" in embedding.unreadable[broken.id]
    assert broken.path.split("/")[-1] in capsys.readouterr().err
    picks = cold_start_picks(workspace, unlabeled_ids(workspace), CLUSTERS * PER_CLUSTER)
    assert broken.id not in picks.ids and picks.ids.size == CLUSTERS * PER_CLUSTER - 1


def test_many_unreadable_images_are_named_up_to_a_bound_then_counted(clustered, capsys):
    workspace, _ = clustered
    lost = workspace.samples()[:cold_start.SHOWN_UNREADABLE + 7]
    for sample in lost:
        workspace.resolve(sample.path).unlink()
    embedding = pool_embedding(workspace)
    assert set(embedding.unreadable) == {s.id for s in lost}  # every one is recorded
    err = capsys.readouterr().err
    assert err.count("left out of the cold-start batch") == cold_start.SHOWN_UNREADABLE + 1
    assert "... and 7 more unreadable files" in err


def test_rank_without_a_model_gives_the_cold_start_batch_and_says_so(clustered):
    workspace, clusters = clustered
    ranked = rank_unlabeled(workspace, "margin", CLUSTERS)
    assert len({clusters[r.sample_id] for r in ranked}) == CLUSTERS
    assert all(isinstance(r.reason, ColdStartReason) and r.reason.method == "kcenter"
               and r.reason.strategy == "margin" for r in ranked)
    assert "PCA" in ranked[0].reason.embedding
    assert ranked[0].to_json()["score"] is None  # first pick: no distance yet, not "Infinity"
    random = rank_unlabeled(workspace, "random", 5)  # needs no model: unchanged
    assert all(not isinstance(r.reason, ColdStartReason) for r in random)


def test_the_rank_command_names_the_cold_start_method(clustered):
    workspace, clusters = clustered
    rows = json.loads(run_cli_in_process("rank", workspace.root, "--strategy", "entropy",
                                         "--top", str(CLUSTERS), "--json"))
    assert [row["cold_start"] for row in rows] == ["kcenter"] * CLUSTERS
    assert len({clusters[row["sample_id"]] for row in rows}) == CLUSTERS
    text = run_cli_in_process("rank", workspace.root, "--top", "3")
    assert "No model yet: cold start" in text and "kcenter" in text
