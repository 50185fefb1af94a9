"""A response that says when its whole body has been sent: a package counts as downloaded only
then, not when the request arrived (a download cut short, or a range of the file, does not)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send


class WhenSent(Response):
    """Sends ``inner`` as it is; once its last byte has been handed to the server with status 200,
    calls ``done`` (in a worker thread: it writes to the database). The response is ended only
    after ``done`` returns, so that a client's next request on the same connection (its
    acknowledgement) finds the download recorded."""

    def __init__(self, inner: Response, done: Callable[[], None]) -> None:
        # Not Response.__init__: the inner response keeps its own body, status and headers.
        self.inner = inner
        self.done = done
        self.status_code = inner.status_code
        self.raw_headers = inner.raw_headers
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 0

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            counts = status == 200 and scope.get("method") == "GET"
            last = message["type"] == "http.response.body" and not message.get("more_body", False)
            if not (counts and last):
                await send(message)  # raises when the client has gone: the body was not all sent
                if counts and message["type"] == "http.response.pathsend":
                    await run_in_threadpool(self.done)
                return
            await send({"type": "http.response.body", "body": message.get("body", b""), "more_body": True})
            await run_in_threadpool(self.done)
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.inner(scope, receive, watched)
        if self.background is not None:
            await self.background()
