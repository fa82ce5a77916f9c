"""One annotator as a real process, for the team tests and the benchmark.

    python -m tests.app.annotator_worker PROJECT NAME LABELS LEASE_MIN LOG [hang]

Claims items in batches of 10 (``claim_next``), labels each with a fresh
client key, and after every *confirmed* label (``label`` returned) appends
``key sample_id commit_seconds`` to LOG, flushed, so a test can tell exactly
which labels the annotator saw confirmed.  Claims are logged as ``claim
ID,ID,...``.  With ``hang`` it claims one batch and then sleeps: the process a
test kills with SIGKILL.
"""

from __future__ import annotations

import sys
import time
import uuid

from app.labeling.claims import claim_next
from app.project.workspace import Workspace

BATCH = 10


def main(argv: list[str]) -> int:
    root, name, labels, lease, log_path = argv[:5]
    hang = len(argv) > 5 and argv[5] == "hang"
    todo, lease_minutes = int(labels), float(lease)
    classes = ("cat", "dog", "bird")
    with Workspace.open(root) as ws, open(log_path, "a", buffering=1) as log:
        done = 0
        while done < todo:
            claimed = claim_next(ws, name, min(BATCH, todo - done), lease_minutes=lease_minutes)
            log.write("claim " + ",".join(str(c.ranked.sample_id) for c in claimed) + "\n")
            if hang:
                time.sleep(3600)
            if not claimed:
                break
            for item in claimed:
                key = f"{name}-{uuid.uuid4().hex}"
                started = time.perf_counter()
                ws.label(item.ranked.sample_id, classes[done % 3], name, client_key=key)
                log.write(f"{key} {item.ranked.sample_id} {time.perf_counter() - started:.6f}\n")
                done += 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
