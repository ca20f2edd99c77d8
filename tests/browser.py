"""Debian's chromium, headless, driven by Playwright, with the network shut: pages are opened from
file: and every other request is blocked and counted (an offline page makes none)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@dataclass
class Loaded:
    """What the browser made of a page: its text, the requests it tried, evaluated values."""

    text: str
    blocked: list[str] = field(default_factory=list)     # every non-file: request
    values: dict = field(default_factory=dict)


class Browser:
    def __init__(self, playwright) -> None:
        self.browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)

    def load(self, path: Path, evaluate: dict[str, str] | None = None) -> Loaded:
        """Open `path`; `evaluate` maps names to JavaScript expressions run once the page has loaded."""
        context = self.browser.new_context(service_workers="block")
        page = context.new_page()
        blocked: list[str] = []

        def route(r) -> None:
            if r.request.url.startswith("file:"):
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        # requests that bypass routing (e.g. prefetches) still show up here
        page.on("request", lambda req: None if req.url.startswith(("file:", "data:")) or req.url in blocked
                else blocked.append(req.url))
        page.goto(path.resolve().as_uri(), wait_until="load")
        page.wait_for_timeout(300)     # let scripts run after load
        values = {name: page.evaluate(expr) for name, expr in (evaluate or {}).items()}
        text = page.inner_text("body")
        context.close()
        return Loaded(text, blocked, values)

    def close(self) -> None:
        self.browser.close()
