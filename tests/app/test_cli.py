"""The CLI end to end on the real demo project, in subprocesses."""

from __future__ import annotations

import json
import shutil

import torchvision

from tests.conftest import run_cli


def test_demo_project_labels_status_and_export(digits_demo, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(digits_demo.project, project)
    status = json.loads(run_cli("status", project, "--json").stdout)
    assert status == {
        "samples": 1797, "labeled": 0, "unlabeled": 1797,
        "per_class": {str(d): 0 for d in range(10)}, "latest_model": None,
        "per_annotator": {},
    }
    report = json.loads(run_cli("import-labels", project, digits_demo.truth_csv, "--json").stdout)
    assert report["labeled"] == 1797 and report["unmatched"] == []
    run_cli("label", project, "pool/digit_0000.png", "7", env={"LABELLOOP_ANNOTATOR": "zoe"})
    status = json.loads(run_cli("status", project, "--json").stdout)
    assert status["per_class"]["7"] == 180 and status["per_class"]["0"] == 177
    assert "undid label 7" in run_cli("undo", project, "--annotator", "zoe").stdout
    exported = json.loads(run_cli("export", project, tmp_path / "out", "--json").stdout)
    dataset = torchvision.datasets.ImageFolder(tmp_path / "out")
    assert len(dataset) == exported["files"] == 1797
    assert dataset.classes == [str(d) for d in range(10)]


def test_errors_are_one_clear_line_and_a_non_zero_exit(tmp_path):
    result = run_cli("status", tmp_path, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("labelloop: error:") and "not a Labelloop project" in result.stderr
    run_cli("init", tmp_path / "p", "--classes", "a,b")
    result = run_cli("label", tmp_path / "p", "42", "a", check=False)
    assert result.returncode == 1 and "no sample with id 42" in result.stderr


def test_import_json_is_exactly_one_object(tmp_path):
    from tests.conftest import write_noise_images

    write_noise_images(tmp_path / "src", 3)
    run_cli("init", tmp_path / "p", "--classes", "a")
    out = run_cli("import", tmp_path / "p", tmp_path / "src", "--json").stdout
    assert json.loads(out) == {"added": 3, "duplicates": 0, "failed": [], "batch": 1,
                               "videos": 0, "frames": 0}
