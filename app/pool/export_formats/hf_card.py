"""The Hugging Face dataset card (``README.md``) both ``hf`` formats write.

Its YAML header is what the Hub and ``datasets`` read: the features, with
the label as a ``class_label`` whose names are the project's classes in
order, so label ``i`` means ``classes[i]`` wherever the data goes.

The features are written twice.  ``dataset_info.features`` is the Hub's
description of the data; ``configs[0].features`` is what ``datasets`` applies
when it builds the dataset from the folder (``load_dataset(OUT)``, or the
same repository on the Hub), which is how a ``metadata.jsonl`` label, a plain
string in JSON, loads as a ``ClassLabel``.  ``load_dataset("imagefolder",
data_dir=OUT)`` never reads the card: there the metadata file alone types
the columns.
"""

from __future__ import annotations

import json

from app.pool.export_formats.common import ExportContext


def _yaml_string(text: str) -> str:
    # JSON strings are valid YAML flow scalars: every class name survives quoting.
    return json.dumps(text, ensure_ascii=False)


def _features_yaml(classes: list[str], extra_columns: list[tuple[str, str]]) -> list[str]:
    """The YAML list of features, each line indented for a ``features:`` key."""
    lines = ["  - name: image", "    dtype: image",
             "  - name: label", "    dtype:", "      class_label:", "        names:"]
    lines += [f"          '{i}': {_yaml_string(name)}" for i, name in enumerate(classes)]
    for name, dtype in extra_columns:
        lines += [f"  - name: {name}", f"    dtype: {dtype}"]
    return lines


def dataset_card(ctx: ExportContext, extra_columns: list[tuple[str, str]],
                 data_files: str, body: str) -> str:
    """A card declaring ``image``, ``label`` (class names) and ``extra_columns``.

    Parameters
    ----------
    ctx : ExportContext
        Gives the class names.
    extra_columns : list of (name, dtype)
        Columns after ``image`` and ``label``, as ``datasets`` dtypes.
    data_files : str
        The ``train`` split's file pattern, relative to the export.
    body : str
        Markdown after the header.
    """
    features = _features_yaml(ctx.classes, extra_columns)
    lines = ["---", "dataset_info:", "  features:", *features,
             "configs:", "- config_name: default", "  data_files:",
             "  - split: train", f"    path: {data_files}",
             "  features:", *features, "---", ""]
    classes = "\n".join(f"- {i}: {name}" for i, name in enumerate(ctx.classes))
    return "\n".join(lines) + body + "\n\n## Classes\n\n" + classes + "\n"
