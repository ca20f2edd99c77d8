from .entry import run

raise SystemExit(run())
