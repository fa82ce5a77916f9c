"""The Hugging Face dataset card (``README.md``) both ``hf`` formats write.

Its YAML header is what the Hub and ``datasets`` read: the features, with
the label as a ``class_label`` whose names are the project's classes in
order, so label ``i`` means ``classes[i]`` wherever the data goes.
"""

from __future__ import annotations

import json

from app.pool.export_formats.common import ExportContext


def _yaml_string(text: str) -> str:
    # JSON strings are valid YAML flow scalars: every class name survives quoting.
    return json.dumps(text, ensure_ascii=False)


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
    lines = ["---", "dataset_info:", "  features:",
             "  - name: image", "    dtype: image",
             "  - name: label", "    dtype:", "      class_label:", "        names:"]
    lines += [f"          '{i}': {_yaml_string(name)}" for i, name in enumerate(ctx.classes)]
    for name, dtype in extra_columns:
        lines += [f"  - name: {name}", f"    dtype: {dtype}"]
    lines += ["configs:", "- config_name: default", "  data_files:",
              "  - split: train", f"    path: {data_files}", "---", ""]
    classes = "\n".join(f"- {i}: {name}" for i, name in enumerate(ctx.classes))
    return "\n".join(lines) + body + "\n\n## Classes\n\n" + classes + "\n"
