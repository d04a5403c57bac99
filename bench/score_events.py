#!/usr/bin/env python3
"""Score the event extractor on the shared labelled captions, as a user would run it.

Feeds ../shared/events/examples.jsonl and ../shared/events/real-dev.jsonl (the real captions of other
clubs, each in its club's zone) through ``ingest_instagram.py parse-caption``, one process per zone with
EVENT_TIMEZONE set (EVENT_DATE_ORDER then follows the zone), and prints the shared scorer's closing
lines for each set. The labelled sets live beside the project, not in it: where ../shared is absent
(a user's clone) it says so and exits 0.

    python bench/score_events.py [--shared DIR] [--details]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "ingest_instagram.py"
SETS = ("examples.jsonl", "real-dev.jsonl")


def predict(gold: Path) -> str:
    """parse-caption's JSON lines for every record of ``gold``, zone by zone."""
    by_zone: dict[str, list[dict]] = defaultdict(list)
    for line in gold.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            by_zone[record.get("zone") or "Australia/Melbourne"].append(record)
    out = []
    for zone, records in by_zone.items():
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "EVENT_DATE_ORDER")}
        env["EVENT_TIMEZONE"] = zone
        lines = "".join(
            json.dumps({"id": r["id"], "caption": r["caption"], "posted_at": r["posted_at"]}, ensure_ascii=False) + "\n"
            for r in records
        )
        done = subprocess.run([sys.executable, str(SCRIPT), "parse-caption"], input=lines, capture_output=True,
                              text=True, env=env, check=True)  # fmt: skip
        out.append(done.stdout)
    return "".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "events")
    parser.add_argument("--details", action="store_true", help="list every miss and false positive")
    args = parser.parse_args()
    scorer = args.shared / "score.py"
    if not scorer.exists():
        print(f"no labelled captions at {args.shared} (they live beside the project, not in it): nothing to score")
        return 0
    for name in SETS:
        gold = args.shared / name
        if not gold.exists():
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8", delete=False) as predictions:
            predictions.write(predict(gold))
        command = [sys.executable, str(scorer), predictions.name, "--gold", str(gold)]
        scored = subprocess.run(command + (["--details"] if args.details else []), capture_output=True, text=True)
        os.unlink(predictions.name)
        lines = scored.stdout.strip().splitlines()
        print(f"== {name}")
        print("\n".join(lines if args.details else lines[-12:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
