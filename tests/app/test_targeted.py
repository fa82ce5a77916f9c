"""Targeted learning end to end: hashes, failure sets, mining, near-duplicates, "similar".

Real faiss, real images. The planted project holds 400 digits plus, for six
of them ("originals"), a resized PNG, a JPEG re-encoding and a 1-pixel
border crop. With the originals as the failure set, those 18 copies are the
known answer for near-duplicates and for phash mining.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import sys
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image

from app.cli import hash_command, targeted
from app.cli.errors import CommandError
from app.pool.demo import digit_image, load_digits_arrays
from app.pool.importer import import_images
from app.pool.label_import import import_labels
from app.project.workspace import Workspace, WorkspaceError
from app.targeted.failure_mining import (
    DEFAULT_DUPLICATE_HAMMING,
    MINING_METHODS,
    duplicate_groups,
    mine_failures,
)
from app.targeted.failure_sets import add_samples, failure_items
from app.targeted.similar import (
    HNSW_THRESHOLD_SETTING,
    INDEX_FILE,
    index_dir,
    pool_index,
    similar_samples,
)
from sampling.hashing import codes_to_int64, hex_to_code
from tests.conftest import run_cli, write_noise_images

N_POOL = 400
ORIGINALS = (13, 57, 186, 202, 299, 378)
N_LABELED = 150
JSON_KEYS = {"sample_id", "path", "score", "nearest_failure", "hamming", "cosine"}


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """This module's commands (and ``hash``) in-process, with app.cli.main's error handling."""
    parser = argparse.ArgumentParser(prog="labelloop")
    commands = parser.add_subparsers(dest="command", required=True)
    targeted.register(commands)
    hash_command.register(commands)
    parsed = parser.parse_args([str(a) for a in args])
    capsys.readouterr()
    try:
        code = int(parsed.run(parsed) or 0)
    except (WorkspaceError, CommandError) as exc:
        print(f"labelloop: error: {exc}", file=sys.stderr)
        code = 1
    out, err = capsys.readouterr()
    return code, out, err


def _copies(image: Image.Image) -> dict[str, Image.Image]:
    jpeg = io.BytesIO()
    image.convert("RGB").save(jpeg, "JPEG", quality=75)
    jpeg.seek(0)
    return {
        "resized.png": image.resize((48, 48), Image.Resampling.BICUBIC),
        "jpeg.jpg": Image.open(jpeg),
        "cropped.png": image.crop((1, 1, 31, 31)),
    }


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """400 digits, 18 planted copies of 6 originals, 150 true labels (no original)."""
    root = tmp_path_factory.mktemp("targeted") / "proj"
    images, targets = load_digits_arrays()
    with Workspace.init(root, [str(d) for d in range(10)]) as ws:
        (root / "pool").mkdir()
        (root / "planted").mkdir()
        for i in range(N_POOL):
            digit_image(images[i], 32).save(root / "pool" / f"digit_{i:04d}.png")
        for i in ORIGINALS:
            for name, copy in _copies(digit_image(images[i], 32)).items():
                copy.save(root / "planted" / f"copy_{i:04d}_{name}")
        import_images(ws, [root / "pool", root / "planted"], workers=1)
        by_path = {s.path: s.id for s in ws.samples()}
        rng = np.random.default_rng(0)
        choices = [i for i in range(N_POOL) if i not in ORIGINALS]
        labeled = sorted(rng.choice(choices, N_LABELED, replace=False).tolist())
        with open(root / "labels.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "label"])
            writer.writerows([(f"pool/digit_{i:04d}.png", int(targets[i])) for i in labeled])
        assert import_labels(ws, root / "labels.csv", "tester").labeled == N_LABELED
    original_ids = {i: by_path[f"pool/digit_{i:04d}.png"] for i in ORIGINALS}
    copy_ids = {i: {by_path[f"planted/copy_{i:04d}_{n}"] for n in ("resized.png", "jpeg.jpg",
                                                                  "cropped.png")}
                for i in ORIGINALS}
    return {"root": root, "originals": original_ids, "copies": copy_ids,
            "labeled": {by_path[f"pool/digit_{i:04d}.png"] for i in labeled}}


@pytest.fixture(scope="module")
def trained(planted: dict) -> dict:
    """The planted project with one small model trained on its 150 labels."""
    run_cli("train", planted["root"], "--epochs", "6", "--min-steps", "0")
    return planted


def _all_ids(root: Path) -> set[int]:
    with Workspace.open(root) as ws:
        return {s.id for s in ws.samples()}


# -- hash -----------------------------------------------------------------------


def test_hash_cli_equals_imagehash_bit_for_bit(tmp_path, capsys):
    files = write_noise_images(tmp_path, 3, size=40)
    images, _ = load_digits_arrays()
    digit_image(images[5], 32).save(tmp_path / "digit.png")
    Image.open(files[0]).resize((57, 23)).convert("L").save(tmp_path / "wide_grey.png")
    files += [tmp_path / "digit.png", tmp_path / "wide_grey.png"]
    reference = {"phash": imagehash.phash, "dhash": imagehash.dhash,
                 "ahash": imagehash.average_hash}
    for method, func in reference.items():
        code, out, err = cli(capsys, "hash", "--method", method, *files, "--json")
        assert code == 0 and err == ""
        expected = [{"path": str(f), "hash": str(func(Image.open(f)))} for f in files]
        assert json.loads(out) == expected
    code, out, _ = cli(capsys, "hash", *files[:2])  # phash is the default
    assert out.splitlines() == [f"{imagehash.phash(Image.open(f))}  {f}" for f in files[:2]]


def test_hash_names_unreadable_files_carries_on_and_exits_1(tmp_path, capsys):
    good = write_noise_images(tmp_path, 2)
    (tmp_path / "notes.png").write_text("not an image")
    missing = tmp_path / "gone.png"
    code, out, err = cli(capsys, "hash", good[0], tmp_path / "notes.png", missing, good[1],
                         "--json")
    assert code == 1
    assert [row["path"] for row in json.loads(out)] == [str(good[0]), str(good[1])]
    assert f"{tmp_path / 'notes.png'}: not an image" in err
    assert f"{missing}: file not found" in err


def test_hash_command_through_the_real_entry_point(tmp_path):
    files = write_noise_images(tmp_path, 2)
    out = run_cli("hash", "--method", "dhash", *files, "--json").stdout
    assert json.loads(out) == [{"path": str(f), "hash": str(imagehash.dhash(Image.open(f)))}
                               for f in files]


def test_cli_choices_match_the_core():
    assert targeted.MINING_METHODS == MINING_METHODS
    assert targeted.DEFAULT_DUPLICATE_HAMMING == DEFAULT_DUPLICATE_HAMMING


# -- near-duplicates ---------------------------------------------------------------


def test_duplicates_group_every_planted_copy_with_its_original(planted, capsys):
    with Workspace.open(planted["root"]) as ws:
        groups = [{s.id for s in group} for group in duplicate_groups(ws, 6)]
    for i, original in planted["originals"].items():
        group = next(g for g in groups if original in g)
        assert planted["copies"][i] <= group
    code, out, _ = cli(capsys, "duplicates", planted["root"], "--max-hamming", "6", "--json")
    rows = json.loads(out)
    assert code == 0 and [{m["sample_id"] for m in group} for group in rows] == groups
    assert all(group[0]["hamming_to_first"] == 0 for group in rows)
    with Workspace.open(planted["root"]) as ws:
        with pytest.raises(WorkspaceError, match="0 or more"):
            duplicate_groups(ws, -1)


# -- failure sets -------------------------------------------------------------------


def test_failures_add_from_a_folder_copies_hashes_and_reports_unreadable(planted, tmp_path,
                                                                         capsys):
    outside = tmp_path / "outside"
    images, _ = load_digits_arrays()
    outside.mkdir()
    for i in (401, 402):
        digit_image(images[i], 32).save(outside / f"new_{i}.png")
    (outside / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (outside / "empty.jpg").write_bytes(b"")
    code, out, err = cli(capsys, "failures", "add", planted["root"], "folder-set", outside)
    assert code == 0
    assert "added 2, already there 0, failed 2" in out
    assert "broken.png" in err and "empty.jpg: empty file" in err
    with Workspace.open(planted["root"]) as ws:
        items = failure_items(ws, "folder-set")
        assert [i.sample_id for i in items] == [None, None]
        for item, source in zip(items, ("new_401.png", "new_402.png"), strict=True):
            copy = ws.resolve(item.path)
            assert copy.is_relative_to(ws.failures_dir) and copy.is_file()
            assert copy.read_bytes() == (outside / source).read_bytes()
            expected = codes_to_int64(hex_to_code(str(imagehash.phash(Image.open(copy)))))[0]
            assert item.phash == expected
    _, out, _ = cli(capsys, "failures", "add", planted["root"], "folder-set", outside, "--json")
    assert json.loads(out)["already_there"] == 2
    code, _, err = cli(capsys, "failures", "add", planted["root"], "bad-only",
                       outside / "broken.png")
    assert code == 1 and "broken.png" in err  # nothing could be added: no empty set left
    with Workspace.open(planted["root"]) as ws:
        assert "bad-only" not in ws.store.failure_set_names()


def test_failures_add_samples_list_and_remove(planted, capsys):
    root = planted["root"]
    ids = sorted(planted["originals"].values())[:2]
    code, out, _ = cli(capsys, "failures", "add", root, "by-id", "--samples",
                       f"{ids[0]},pool/digit_{ORIGINALS[1]:04d}.png", "--json")
    assert code == 0 and json.loads(out) == {"failure_set": "by-id", "added": 2,
                                             "already_there": 0, "failed": []}
    code, _, err = cli(capsys, "failures", "add", root, "by-id", "--samples", "999999")
    assert code == 1 and "no sample with id 999999" in err
    outside = root.parent / "one-outside"
    write_noise_images(outside, 1)
    cli(capsys, "failures", "add", root, "mixed", outside, "--samples", str(ids[0]))
    _, out, _ = cli(capsys, "failures", "list", root, "--json")
    listed = {row["name"]: row for row in json.loads(out)}
    assert listed["by-id"] == {"name": "by-id", "items": 2, "pool_samples": 2,
                               "outside_images": 0}
    assert listed["mixed"] == {"name": "mixed", "items": 2, "pool_samples": 1,
                               "outside_images": 1}
    with Workspace.open(root) as ws:
        copied = ws.resolve(next(i.path for i in failure_items(ws, "mixed") if i.path))
    assert copied.is_file()
    code, out, _ = cli(capsys, "failures", "remove", root, "mixed")
    assert code == 0 and not copied.exists()
    _, out, _ = cli(capsys, "failures", "list", root, "--json")
    assert "mixed" not in {row["name"] for row in json.loads(out)}
    code, _, err = cli(capsys, "failures", "remove", root, "mixed")
    assert code == 1 and "no failure set named 'mixed'" in err
    code, _, err = cli(capsys, "failures", "add", root, "nothing")
    assert code == 1 and "give a folder" in err


# -- mining ------------------------------------------------------------------------


def test_phash_mining_ranks_the_planted_copies_first(planted, capsys):
    root = planted["root"]
    with Workspace.open(root) as ws:
        add_samples(ws, "originals", list(planted["originals"].values()))
        paths = {s.id: s.path for s in ws.samples()}
    all_copies = set().union(*planted["copies"].values())
    code, out, _ = cli(capsys, "mine", root, "--failures", "originals", "--top", "18",
                       "--method", "phash", "--json")
    rows = json.loads(out)
    assert code == 0 and {r["sample_id"] for r in rows} == all_copies
    for row in rows:
        assert set(row) == JSON_KEYS and row["cosine"] is None
        original = next(i for i, c in planted["copies"].items() if row["sample_id"] in c)
        assert row["nearest_failure"] == paths[planted["originals"][original]]
        assert row["score"] == pytest.approx(1 - row["hamming"] / 64)
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    with Workspace.open(root) as ws:
        mined = mine_failures(ws, "originals", 3, "phash")
        reason = mined[0].reason
        assert reason.failure_set == "originals" and reason.method == "phash"
        assert reason.nearest_failure.sample_id in planted["originals"].values()
        assert reason.nearest_failure.id > 0 and reason.cosine is None
        # --max-hamming keeps only candidates within H of some failure.
        near = mine_failures(ws, "originals", 1000, "phash", max_hamming=2)
        assert near and all(m.reason.hamming <= 2 for m in near)


def test_outside_failures_find_the_same_copies_and_never_their_pool_twins(planted, tmp_path,
                                                                          capsys):
    root = planted["root"]
    outside = tmp_path / "originals"
    outside.mkdir()
    for i in ORIGINALS:  # byte-identical to the pool's originals
        shutil.copyfile(root / "pool" / f"digit_{i:04d}.png", outside / f"o{i}.png")
    cli(capsys, "failures", "add", root, "outside-originals", outside)
    _, out, _ = cli(capsys, "mine", root, "--failures", "outside-originals", "--top", "18",
                    "--json")
    rows = json.loads(out)
    assert {r["sample_id"] for r in rows} == set().union(*planted["copies"].values())
    assert all(r["nearest_failure"].startswith("failures/") for r in rows)
    with Workspace.open(root) as ws:
        everything = {m.sample_id for m in mine_failures(ws, "outside-originals", 10_000)}
    assert everything.isdisjoint(planted["originals"].values())


def test_labeled_and_failure_samples_are_never_proposed(trained):
    root = trained["root"]
    with Workspace.open(root) as ws:
        add_samples(ws, "excluded", list(trained["originals"].values()))
        expected = _all_ids(root) - trained["labeled"] - set(trained["originals"].values())
        for method in MINING_METHODS:
            mined = mine_failures(ws, "excluded", 10_000, method)
            assert {m.sample_id for m in mined} == expected, method
            assert len(mined) == len(expected)


def test_embedding_mining_before_any_model_is_a_clear_error(project, capsys):
    add_samples(project, "early", [1, 2])
    assert len(mine_failures(project, "early", 5, "phash")) == 5
    for method in ("embedding", "both"):
        with pytest.raises(WorkspaceError, match="no model yet"):
            mine_failures(project, "early", 5, method)
        code, out, err = cli(capsys, "mine", project.root, "--failures", "early",
                             "--method", method)
        assert code == 1 and out == "" and "no model yet" in err
    with pytest.raises(WorkspaceError, match="no failure set named 'nope'"):
        mine_failures(project, "nope", 5)
    with pytest.raises(WorkspaceError, match="unknown mining method"):
        mine_failures(project, "early", 5, "hash")


def test_embedding_and_both_mining_give_the_json_schema(trained, tmp_path, capsys):
    root = trained["root"]
    outside = tmp_path / "two"
    outside.mkdir()
    for i in ORIGINALS[:2]:
        shutil.copyfile(root / "planted" / f"copy_{i:04d}_resized.png", outside / f"r{i}.png")
    cli(capsys, "failures", "add", root, "emb", outside, "--samples",
        str(trained["originals"][ORIGINALS[2]]))
    for method in ("embedding", "both"):
        code, out, _ = cli(capsys, "mine", root, "--failures", "emb", "--top", "10",
                           "--method", method, "--json")
        rows = json.loads(out)
        assert code == 0 and len(rows) == 10
        for row in rows:
            assert set(row) == JSON_KEYS
            assert isinstance(row["nearest_failure"], str) and -1 <= row["cosine"] <= 1 + 1e-6
            cosine01 = (1 + row["cosine"]) / 2
            if method == "embedding":
                assert row["hamming"] is None
                assert row["score"] == pytest.approx(cosine01, abs=1e-6)
            else:
                assert isinstance(row["hamming"], int)
                assert row["score"] == pytest.approx((cosine01 + 1 - row["hamming"] / 64) / 2,
                                                     abs=1e-6)
    cache = root / "cache" / "failures" / "v00001.npz"
    with np.load(cache) as data:
        assert data["embeddings"].shape[0] == 2  # the two outside images, by sha256
    code, _, err = cli(capsys, "mine", root, "--failures", "emb", "--method", "embedding",
                       "--max-hamming", "4")
    assert code == 1 and "phash and both" in err


# -- similar ----------------------------------------------------------------------


def test_similar_reuses_its_index_and_rebuilds_it_after_an_import(trained, tmp_path, capsys):
    root = tmp_path / "proj"
    shutil.copytree(trained["root"], root)
    original = ORIGINALS[0]
    original_id = trained["originals"][original]
    with Workspace.open(root) as ws:
        version = ws.latest_model()
        first = pool_index(ws, version)
        index_file = index_dir(ws, version.id) / INDEX_FILE
        stamp = index_file.stat().st_mtime_ns
        again = pool_index(ws, version)
        assert first.rebuilt and not again.rebuilt and index_file.stat().st_mtime_ns == stamp
        found = similar_samples(ws, original_id, 5)
        assert original_id not in {r.sample_id for r in found}
        assert len(found) == 5 and found[0].score >= found[-1].score
        # The resized copy decodes to almost the same pixels as the original.
        resized = next(s.id for s in ws.samples()
                       if s.path == f"planted/copy_{original:04d}_resized.png")
        assert resized in {r.sample_id for r in found[:2]}
        assert not pool_index(ws, version).rebuilt
    images, _ = load_digits_arrays()
    (tmp_path / "new").mkdir()
    digit_image(images[1000], 32).save(tmp_path / "new" / "late.png")
    with Workspace.open(root) as ws:
        import_images(ws, [tmp_path / "new"], workers=1)
        grown = pool_index(ws, version)
        assert grown.rebuilt and len(grown.index) == len(first.index) + 1
    code, out, _ = cli(capsys, "similar", root, str(original_id), "--top", "3", "--json")
    rows = json.loads(out)
    assert code == 0 and [set(r) for r in rows] == [{"sample_id", "path", "cosine", "label"}] * 3
    assert index_file.stat().st_mtime_ns != stamp
    _, out, _ = cli(capsys, "similar", root, str(original_id), "--top", "50", "--unlabeled",
                    "--json")
    assert all(r["label"] is None for r in json.loads(out))
    # A sidecar that names other data (e.g. another checkpoint) is stale: rebuilt.
    sidecar = index_file.with_name(index_file.name + ".json")
    sidecar.write_text(sidecar.read_text().replace('"fingerprint": "', '"fingerprint": "x'))
    with Workspace.open(root) as ws:
        assert pool_index(ws, version).rebuilt
        assert not pool_index(ws, version).index.is_hnsw
        # Above the configured pool size the index switches to HNSW (and is rebuilt once).
        ws.set_setting(HNSW_THRESHOLD_SETTING, "100")
        hnsw = pool_index(ws, version)
        assert hnsw.rebuilt and hnsw.index.is_hnsw and not pool_index(ws, version).rebuilt
        found = similar_samples(ws, original_id, 5)
        assert len(found) == 5 and resized in {r.sample_id for r in found[:2]}


def test_a_damaged_failure_cache_is_rebuilt_and_a_tampered_path_refused(trained, tmp_path,
                                                                          capsys):
    root = trained["root"]
    outside = tmp_path / "one"
    outside.mkdir()
    shutil.copyfile(root / "planted" / f"copy_{ORIGINALS[0]:04d}_resized.png",
                    outside / "r.png")
    cli(capsys, "failures", "add", root, "cached", outside)
    args = ("mine", root, "--failures", "cached", "--top", "5", "--method", "embedding",
            "--json")
    code, first, _ = cli(capsys, *args)
    cache = root / "cache" / "failures" / "v00001.npz"
    data = bytearray(cache.read_bytes())
    cache.write_bytes(bytes(data[: len(data) // 2]))  # truncated
    code, again, _ = cli(capsys, *args)
    rebuilt_rows, first_rows = json.loads(again), json.loads(first)
    assert code == 0 and [r["sample_id"] for r in rebuilt_rows] == [
        r["sample_id"] for r in first_rows]
    assert [r["score"] for r in rebuilt_rows] == pytest.approx([r["score"] for r in first_rows],
                                                               abs=1e-5)
    with np.load(cache) as rebuilt:
        assert rebuilt["embeddings"].shape[0] >= 1
    cache.unlink()  # force a fresh read of the (now tampered) stored path
    victim = tmp_path / "victim.png"
    shutil.copyfile(outside / "r.png", victim)
    with Workspace.open(root) as ws, ws.store.transaction() as conn:
        conn.exec_driver_sql("UPDATE failure_items SET path = ? WHERE failure_set_id = "
                             "(SELECT id FROM failure_sets WHERE name = 'cached')", (str(victim),))
    code, _, err = cli(capsys, *args)
    assert code == 1 and "outside" in err and "failure image" in err
