"""Numbers, weights files, class names and label CSV rows are checked before any work."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import torch

from app.cli import validators
from app.cli.main import main
from app.domain.class_names import MAX_CLASS_NAME_LENGTH, class_name_problem
from app.domain.text_safety import escape_controls
from app.files.safe_names import MAX_COMPONENT_BYTES, cut_to_bytes, safe_component
from app.files.weights_file import check_weights_file
from app.pool.exporter import export_dataset
from app.pool.importer import import_images
from app.pool.label_import import import_labels
from app.project.workspace import Workspace, WorkspaceError, check_class_name, parse_class_names
from tests.conftest import run_cli, write_noise_images

SIM = ["simulate", "--pool", "a", "--test", "b", "--init", "4", "--step", "2", "--rounds", "1",
       "--out", "o"]
BAD_NUMBERS = [
    (["rank", "P", "--top", "0"], "--top must be an integer >= 1, got '0'"),
    (["train", "P", "--input-size", "100000"],
     "--input-size must be an integer from 16 to 512, got '100000'"),
    (["train", "P", "--epochs", "0"], "--epochs must be an integer from 1 to 100000, got '0'"),
    (["train", "P", "--min-steps", "-1"], "--min-steps must be an integer from 0 to"),
    (["train", "P", "--val-fraction", "nan"],
     "--val-fraction must be a finite number >= 0 and < 1, got 'nan'"),
    (["train", "P", "--val-fraction", "1"], "--val-fraction must be a finite number >= 0"),
    (["train", "P", "--seed", "-3"], "--seed must be an integer from 0 to 4294967295"),
    (["train", "P", "--patience", "x"], "--patience must be an integer from 0 to"),
    (["score", "P", "--mc-samples", "0"], "--mc-samples must be an integer from 1 to 200"),
    (["score", "P", "--mc-samples", "100000"], "--mc-samples must be an integer from 1 to 200"),
    (["label", "P", "1", "a", "--seconds", "inf"],
     "--seconds must be a finite number >= 0, got 'inf'"),
    (["label", "P", "1", "a", "--seconds", "-1"], "--seconds must be a finite number >= 0"),
    (["live", "P", "--window", "0"], "--window must be an integer >= 1, got '0'"),
    (["drift", "P", "--alpha", "0"], "--alpha must be a finite number > 0 and < 1, got '0'"),
    (["drift", "P", "--top", "-1"], "--top must be an integer >= 0, got '-1'"),
    (["mine", "P", "--failures", "x", "--max-hamming", "-1"],
     "--max-hamming must be an integer from 0 to 64, got '-1'"),
    (["duplicates", "P", "--max-hamming", "65"], "--max-hamming must be an integer from 0 to 64"),
    (["similar", "P", "1", "--top", "0"], "--top must be an integer >= 1, got '0'"),
    ([*SIM, "--mc-samples", "0"], "--mc-samples must be an integer from 1 to 200"),
    ([*SIM, "--lr", "nan"], "--lr must be a finite number > 0 and <= 10, got 'nan'"),
    ([*SIM, "--batch-size", "0"], "--batch-size must be an integer from 1 to 4096"),
    (["simulate", "--pool", "a", "--test", "b", "--init", "1", "--step", "2", "--rounds", "1",
      "--out", "o"], "--init must be an integer >= 2, got '1'"),
    (["import", "P", "src", "--max-file-size", "huge"],
     "--max-file-size must be a size such as 64M, 256M or 1G, got 'huge'"),
    (["score", "P", "--model", "0"], "--model must be an integer >= 1, got '0'"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_NUMBERS,
                         ids=[" ".join(a[:1] + a[-2:]) for a, _ in BAD_NUMBERS])
def test_a_bad_number_is_one_line_and_exit_2_before_anything_runs(argv, message, capsys):
    # "P" does not exist: the value is refused before any project is opened.
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert err.startswith(f"labelloop {argv[0]}: error: ")


def test_good_numbers_are_accepted():
    assert validators.count("3") == 3
    assert validators.input_size("512") == 512
    assert validators.float_range(0, 1, high_open=True)("0") == 0.0
    assert validators.seconds("2.5") == 2.5


def test_input_size_is_checked_against_the_architecture(tmp_path, capsys):
    assert main(["train", str(tmp_path / "P"), "--arch", "resnet18", "--input-size", "16"]) == 1
    assert capsys.readouterr().err == (
        "labelloop: error: --input-size for resnet18 must be from 32 to 512, got 16\n")


@pytest.mark.parametrize("arch", sorted(validators.MIN_INPUT_SIZE))
def test_the_cli_input_size_bounds_are_the_networks(arch):
    from models.networks import ARCHITECTURES, build_network

    assert set(validators.MIN_INPUT_SIZE) == set(ARCHITECTURES)
    smallest = validators.MIN_INPUT_SIZE[arch]
    build_network(arch, 2, smallest, pretrained=False)
    with pytest.raises(ValueError):
        build_network(arch, 2, smallest - 1, pretrained=False)


def _two_classes_labeled(ws: Workspace) -> None:
    samples = ws.samples()
    ws.label(samples[0].id, "cat", "ann")
    ws.label(samples[1].id, "dog", "ann")


@pytest.mark.parametrize(("content", "reason"), [
    (b"\x89PNG not weights", "not a PyTorch state_dict file (it does not load with "
                            "torch.load(weights_only=True))"),
    ({"x": torch.zeros(2)}, "does not match the network: missing"),
    (None, "file not found"),
])
def test_bad_weights_are_refused_before_a_job_is_created(project, tmp_path, capsys, content,
                                                         reason):
    _two_classes_labeled(project)
    weights = tmp_path / "w.pt"
    if isinstance(content, bytes):
        weights.write_bytes(content)
    elif content is not None:
        torch.save(content, weights)
    assert main(["train", str(project.root), "--weights", str(weights)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"labelloop: error: --weights {weights}: ") and reason in err
    assert err.count("\n") == 1
    assert project.store.list_jobs() == []


def test_good_weights_pass_the_check_and_become_an_absolute_path(tmp_path, monkeypatch):
    from models.networks import build_network

    torch.save(build_network("small_cnn", 5, 32).state_dict(), tmp_path / "good.pt")
    monkeypatch.chdir(tmp_path)
    assert check_weights_file("good.pt", "small_cnn") == tmp_path / "good.pt"
    with pytest.raises(WorkspaceError, match="does not load into a resnet18 network|missing"):
        check_weights_file("good.pt", "resnet18")


# -- class names --------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "   ", "red\x1b[31m", "two\nlines", "tab\there",
                                  "x" * (MAX_CLASS_NAME_LENGTH + 1), "\u202eevil", " padded",
                                  "bell\x07", "nul\x00"])
def test_invalid_class_names_are_refused(name):
    assert class_name_problem(name) is not None
    with pytest.raises(WorkspaceError, match="class name"):
        check_class_name(name)


@pytest.mark.parametrize("name", ["cat", "\U0001f600" * 100, "../evil", "a b", "\u732b",
                                  "x" * MAX_CLASS_NAME_LENGTH, "family \U0001f468\u200d\U0001f469"])
def test_valid_class_names_are_accepted(name):
    assert class_name_problem(name) is None


def test_every_door_for_class_names_checks_them(project, tmp_path):
    with pytest.raises(WorkspaceError, match=r"contains control characters \(\\x1b\)"):
        parse_class_names("ok,red\x1b[31m")  # the GUI's new-project dialog goes through this
    with pytest.raises(WorkspaceError, match="contains control characters"):
        Workspace.init(tmp_path / "new", ["ok", "bad\x07"])
    assert not (tmp_path / "new").exists()
    with pytest.raises(WorkspaceError, match="101 characters long"):
        project.add_classes(["y" * 101])
    with pytest.raises(WorkspaceError, match="is empty"):
        project.rename_class("cat", "")
    assert project.classes() == ["cat", "dog", "bird"]


def test_cli_init_with_an_escape_in_a_class_name_is_one_line(tmp_path):
    result = run_cli("init", tmp_path / "p", "--classes", "a,b\x1b]0;pwned\x07", check=False)
    assert result.returncode == 1
    assert result.stderr == ("labelloop: error: class name 'b\\x1b]0;pwned\\x07' contains "
                             "control characters (\\x1b \\x07)\n")
    assert not (tmp_path / "p").exists()


# -- escaping untrusted text in output ----------------------------------------


def test_escape_controls():
    assert escape_controls("plain C:\\path") == "plain C:\\path"
    assert escape_controls("a\x1b[2Jb\n\u202e\\") == "a\\x1b[2Jb\\n\\u202e\\\\"


def test_classes_and_status_escape_a_name_stored_before_validation(project, capsys):
    project.store.add_classes(["old\x1b[2J"])  # as an older version could have stored it
    assert main(["classes", str(project.root)]) == 0
    assert main(["status", str(project.root)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert out.count("old\\x1b[2J") == 2


def test_a_file_name_with_a_newline_is_reported_on_one_line(tmp_path):
    write_noise_images(tmp_path / "src", 1)
    (tmp_path / "src" / "evil\nFAKE: line.png").write_text("no image")
    Workspace.init(tmp_path / "p", ["a"]).close()
    result = run_cli("import", tmp_path / "p", tmp_path / "src")
    assert result.stderr.splitlines() == [
        f"  {tmp_path / 'src'}/evil\\nFAKE: line.png: not an image (unrecognised format)"]


# -- import-labels rows -----------------------------------------------------------


def _write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label"])
        writer.writerows(rows)
    return path


def test_label_rows_that_cannot_apply_are_reported_and_the_rest_go_in(project, tmp_path):
    names = sorted(s.path.rsplit("/", 1)[-1] for s in project.samples())
    by_name = {s.path.rsplit("/", 1)[-1]: s.id for s in project.samples()}
    project.label(by_name[names[1]], "bird", "ann")
    rows = [
        (names[0], "cat"), (f"images/{names[0]}", "cat"),     # repeated, same label
        (names[1], "cat"), (f"./{names[1]}", "dog"),          # conflicting
        (names[2], ""),                                       # empty label
        (f"images/../images/{names[3]}", "dog"),              # refused path
        (names[4], "bad\x1b[2J"), (names[5], "z" * 101),      # invalid labels
        (names[6], "fish"),                                   # a new class, valid
    ]
    report = import_labels(project, _write_csv(tmp_path / "l.csv", rows), "ann",
                           add_classes=True)
    assert report.to_json() == {
        "labeled": 2, "unchanged": 0, "repeated": 1, "added_classes": ["fish"],
        "unmatched": [], "ambiguous": [], "empty_label": [names[2]],
        "invalid_labels": [
            {"file": names[4], "label": "bad\x1b[2J",
             "reason": "contains control characters (\\x1b)"},
            {"file": names[5], "label": "z" * 101,
             "reason": "is 101 characters long (at most 100)"}],
        "refused_paths": [{"file": f"images/../images/{names[3]}",
                           "reason": "has a '..' component; write the path without it"}],
        "conflicting": [{"path": project.sample(by_name[names[1]]).path, "labels": ["cat", "dog"],
                         "files": [names[1], f"./{names[1]}"]}],
        "refused_by_role": [],  # no roles on this project: nobody is refused
        # Read as today's CSV; five rows found their sample (two applied, one
        # repeated, two in conflict); no history; the labels went in as "ann".
        "format": "csv", "matched": 5, "history": 0,
        "per_annotator": {"ann": {"labeled": 2, "history": 0}}, "source_counts": {},
    }
    labels = project.current_labels()
    assert labels == {by_name[names[0]]: "cat", by_name[names[1]]: "bird",
                      by_name[names[6]]: "fish"}
    assert project.classes() == ["cat", "dog", "bird", "fish"]


def test_import_labels_summary_names_each_kind_on_stderr(project, tmp_path):
    paths = sorted(s.path for s in project.samples())
    names = [path.rsplit("/", 1)[-1] for path in paths]
    rows = [(names[0], "cat"), (names[0], "dog"), (names[1], ""), (names[2], "x\x1b[2J")]
    result = run_cli("import-labels", project.root, _write_csv(tmp_path / "l.csv", rows),
                     "--add-classes")
    assert result.stdout.splitlines()[0] == (
        "labeled 0, already so 0, unmatched 0, ambiguous 0, conflicting 1, empty label 1, "
        "invalid label 1, refused path 0")
    assert result.stderr.splitlines() == [
        f"  '{paths[0]}': conflicting labels cat, dog; left as it was",
        f"  '{names[1]}': empty label, skipped",
        f"  '{names[2]}': label 'x\\x1b[2J' contains control characters (\\x1b)",
    ]
    assert json.loads(run_cli("import-labels", project.root, tmp_path / "l.csv",
                              "--json").stdout)["conflicting"][0]["labels"] == ["cat", "dog"]


# -- names in exports -------------------------------------------------------------


def test_names_are_cut_by_bytes_between_characters():
    assert cut_to_bytes("\U0001f600\U0001f600", 5) == "\U0001f600"
    assert cut_to_bytes("abc", 3) == "abc"
    long = safe_component("\U0001f600" * 100)
    assert len(long.encode()) <= MAX_COMPONENT_BYTES and set(long) == {"\U0001f600"}


def test_a_100_emoji_class_and_a_62_emoji_file_name_export(tmp_path):
    emoji_class = "\U0001f600" * 100
    source = tmp_path / "src"
    write_noise_images(source, 1)
    os.rename(source / "img_0000.png", source / ("\U0001f431" * 62 + ".png"))
    with Workspace.init(tmp_path / "p", [emoji_class, "b"]) as ws:
        import_images(ws, [source], workers=1)
        ws.label(ws.samples()[0].id, emoji_class, "ann")
        report = export_dataset(ws, tmp_path / "out", "imagefolder")
    assert report.files == 1
    (exported,) = [p for p in (tmp_path / "out").rglob("*.png")]
    assert all(len(part.encode()) <= 255 for part in exported.relative_to(tmp_path).parts)
    assert exported.parent.name.startswith("\U0001f600" * 40)
    assert "\U0001f431" * 40 in exported.name
