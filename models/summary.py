"""A layer-by-layer description of a network, for the model registry and reports.

torchvision and torch ship no module-tree summary with output shapes (the
``torchinfo`` package does, but one dummy forward pass with hooks is a few
lines, so it is not worth a dependency).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from models.inference import eval_mode


def _shape_of(output: Any) -> list[int] | list[list[int]] | None:
    """Shape without the batch dimension; a list of shapes for tuple outputs."""
    if isinstance(output, Tensor):
        return list(output.shape[1:])
    if isinstance(output, (tuple, list)):
        shapes = [list(item.shape[1:]) for item in output if isinstance(item, Tensor)]
        return shapes or None
    return None


def describe_network(model: nn.Module, input_shape: Sequence[int]) -> list[dict[str, Any]]:
    """Describe every module of ``model`` from one dummy forward pass.

    Parameters
    ----------
    model : nn.Module
        The network; its train/eval flags are restored afterwards.
    input_shape : sequence of int
        One input without the batch dimension, e.g. ``(3, 32, 32)``.

    Returns
    -------
    list of dict
        One row per module in definition order, the root (``name == ""``)
        first: ``{"name", "type", "depth", "output_shape", "params",
        "trainable_params", "total_params"}``. ``output_shape`` excludes the
        batch dimension and is ``None`` for modules the forward pass did not
        call. ``params`` counts the module's own parameters only, so summing
        it over the rows gives the network's total; ``total_params`` includes
        its children. A parameter shared between modules is counted once.
    """
    shapes: dict[nn.Module, Any] = {}

    def record(module: nn.Module, _inputs: Any, output: Any) -> None:
        # A module called twice keeps its first shape.
        shapes.setdefault(module, _shape_of(output))

    handles = [module.register_forward_hook(record) for module in model.modules()]
    try:
        parameter = next(model.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        dummy = torch.zeros((1, *input_shape), device=device)
        # Eval mode: BatchNorm would refuse (and update statistics on) a batch of 1.
        with eval_mode(model), torch.no_grad():
            model(dummy)
    finally:
        for handle in handles:
            handle.remove()

    seen: set[int] = set()
    rows = []
    for name, module in model.named_modules():
        own = [p for p in module.parameters(recurse=False) if id(p) not in seen]
        seen.update(id(p) for p in own)
        rows.append(
            {
                "name": name,
                "type": type(module).__name__,
                "depth": 0 if name == "" else name.count(".") + 1,
                "output_shape": shapes.get(module),
                "params": sum(p.numel() for p in own),
                "trainable_params": sum(p.numel() for p in own if p.requires_grad),
                "total_params": sum(p.numel() for p in module.parameters()),
            }
        )
    return rows


def format_summary(rows: Sequence[dict[str, Any]], input_shape: Sequence[int]) -> str:
    """Render :func:`describe_network` rows as a fixed-width table with totals."""
    body = [
        (
            ("  " * (row["depth"] - 1) + row["name"]) if row["name"] else "(model)",
            row["type"],
            "-" if row["output_shape"] is None else str(row["output_shape"]),
            f"{row['params']:,}",
        )
        for row in rows
    ]
    header = ("Layer", "Type", "Output shape", "Params")
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(4)]

    def line(cells: Sequence[str]) -> str:
        left = [cell.ljust(width) for cell, width in zip(cells[:3], widths[:3], strict=True)]
        return "  ".join([*left, cells[3].rjust(widths[3])])

    rule = "-" * len(line(header))
    total = sum(row["params"] for row in rows)
    trainable = sum(row["trainable_params"] for row in rows)
    footer = [
        f"Input shape: {list(input_shape)}",
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
        f"Parameter size (float32): {total * 4 / 2**20:.2f} MiB",
    ]
    return "\n".join([line(header), rule, *(line(cells) for cells in body), rule, *footer])
