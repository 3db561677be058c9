"""A headless Chromium (Debian's package) driven over the Chrome DevTools Protocol, with
aiohttp's websocket client: no WebDriver, nothing that downloads a browser.

:func:`chromium_path` finds the browser (None: tests skip and say why); :func:`browser` starts
it with a throwaway profile and yields a :class:`Page` (one tab) to navigate, evaluate
JavaScript in, press keys on, resize and screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import re
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
START_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 30.0


def chromium_path() -> str | None:
    """The first Chromium on PATH (``$INGESTD_TEST_CHROMIUM`` first), else None."""
    named = os.environ.get("INGESTD_TEST_CHROMIUM")
    for name in ((named,) if named else ()) + CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Page:
    """One tab over a CDP session: commands by id, events collected as they come."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.session: str | None = None
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._event_seen = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = message.json()
            waiting = self._waiting.pop(data.get("id", -1), None)
            if waiting is not None and not waiting.done():
                waiting.set_result(data)
            elif "method" in data:
                self.events.append(data)
                self._event_seen.set()

    async def send(self, method: str, session: bool = True, **params: Any) -> dict[str, Any]:
        """Run one CDP command (on the tab's session unless ``session`` is False)."""
        number = next(self._ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session and self.session:
            message["sessionId"] = self.session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[number] = future
        await self.socket.send_json(message)
        answer = await asyncio.wait_for(future, COMMAND_TIMEOUT_S)
        if "error" in answer:
            raise RuntimeError(f"cdp: {method}: {answer['error']}")
        return dict(answer.get("result", {}))

    async def wait_event(self, method: str, after: int) -> dict[str, Any]:
        """The first event named ``method`` among those from index ``after`` on."""
        async with asyncio.timeout(COMMAND_TIMEOUT_S):
            while True:
                for event in self.events[after:]:
                    if event["method"] == method:
                        return event
                self._event_seen.clear()
                await self._event_seen.wait()

    async def goto(self, url: str) -> None:
        """Navigate and wait for the load event."""
        mark = len(self.events)
        await self.send("Page.navigate", url=url)
        await self.wait_event("Page.loadEventFired", mark)

    async def js(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        found = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in found:
            raise RuntimeError(f"cdp: {expression}: {found['exceptionDetails']}")
        return found["result"].get("value")

    async def press(self, key: str) -> None:
        """Press and release a printable key (as a person typing it)."""
        for kind in ("keyDown", "keyUp"):
            await self.send("Input.dispatchKeyEvent", type=kind, key=key, text=key)

    async def resize(self, width: int, height: int, mobile: bool = False) -> None:
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )

    async def screenshot(self, path: Path) -> Path:
        """The whole page as a PNG at ``path``."""
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    async def close(self) -> None:
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


@asynccontextmanager
async def browser(executable: str, profile: Path) -> AsyncIterator[Page]:
    """A headless Chromium with a fresh profile under ``profile``, and one tab in it."""
    command = [
        executable,
        "--headless=new",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "about:blank",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = await asyncio.wait_for(asyncio.to_thread(_devtools_url, process), START_TIMEOUT_S)
        async with aiohttp.ClientSession() as http, http.ws_connect(url, max_msg_size=0) as ws:
            page = Page(ws)
            target = await page.send("Target.createTarget", session=False, url="about:blank")
            attached = await page.send(
                "Target.attachToTarget", session=False, targetId=target["targetId"], flatten=True
            )
            page.session = attached["sessionId"]
            await page.send("Page.enable")
            await page.send("Runtime.enable")
            try:
                yield page
            finally:
                await page.close()
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stderr is not None:
            process.stderr.close()


def _devtools_url(process: subprocess.Popen[bytes]) -> str:
    """The browser's websocket URL, from the line Chromium prints on start."""
    assert process.stderr is not None
    for raw in process.stderr:
        match = re.search(rb"DevTools listening on (ws://\S+)", raw)
        if match:  # keep draining stderr, or a chatty browser blocks on a full pipe
            threading.Thread(target=_drain, args=(process.stderr,), daemon=True).start()
            return match.group(1).decode()
    raise RuntimeError(f"chromium exited ({process.wait()}) without a DevTools address")


def _drain(stream: Any) -> None:
    for _ in stream:
        pass
