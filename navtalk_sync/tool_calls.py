"""Answering the model's tool calls (protocol.md#tool-results) on a pool of worker threads.

The dispatcher hands every ``function_call_arguments.delta``/``.done`` event to
``ToolRunner.on_event``, which only files them: a call goes into a bounded queue and runs on
one of the ``navtalk-tool-<n>`` threads (``tool_workers.WorkerPool``), never on the reader or
the dispatcher, so a slow tool holds up neither events nor other callbacks. Each call is
answered once, with whichever comes first: the tool's result, its failure (whatever it raised,
``SystemExit`` included), or its timeout. The timeout counts from when the call arrived, not
from when a worker took it: a call waiting behind hung tools is answered on time by the
``navtalk-tool-timer`` thread. The answer is a ``function_call_output`` item, then
``response.create`` unless the tool has ``auto_reply=False``. Anything but a result is also
published as a ``client.tool_error`` event (``ToolFailure``).

Bounds and overflow policy: at most ``queue_size`` calls wait; a call beyond that is answered
at once with a "busy" error output. Argument fragments (``.delta``) are kept for at most
``MAX_PENDING_ARGUMENTS`` calls and ``MAX_ARGUMENT_CHARS`` characters each; beyond that the
oldest call's fragments are forgotten, and a call whose fragments overflowed is answered with
a "bad_arguments" error. A tool that will not return is left behind (see ``WorkerPool``).

``run_later`` runs an ``after_reply`` job on the same workers; when the avatar has finished
speaking is decided by ``replies.ReplyTracker``.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from typing import Any, Callable, Mapping

from . import messages, user_code
from .errors import NavTalkError, NotConnected
from .events import (
    CallbackFailure,
    Event,
    FunctionCallArgumentsDelta,
    FunctionCallArgumentsDone,
    ToolFailure,
)
from .logs import get_logger
from .timeouts import Deadline
from .tool_workers import DeadlineTimer, WorkerPool
from .tools import DEFAULT_TOOL_TIMEOUT, BadArguments, Tool, ToolRegistry

__all__ = ["ToolRunner", "WATCHED_EVENTS", "MAX_PENDING_ARGUMENTS", "MAX_ARGUMENT_CHARS"]

log = get_logger(__name__)

#: The events ``on_event`` wants to see.
WATCHED_EVENTS = (FunctionCallArgumentsDelta, FunctionCallArgumentsDone)
#: Calls whose argument fragments are kept while their ``.done`` has not come.
MAX_PENDING_ARGUMENTS = 64
#: Characters of argument fragments kept per call.
MAX_ARGUMENT_CHARS = 1_000_000

Send = Callable[[Mapping[str, Any]], None]
Publish = Callable[[Event], None]


class _Fragments:
    """One call's ``.delta`` fragments, with their total length kept as they come."""

    __slots__ = ("chars", "overflowed", "parts")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.chars = 0
        self.overflowed = False

    def add(self, text: str) -> None:
        if self.overflowed or self.chars + len(text) > MAX_ARGUMENT_CHARS:
            self.overflowed, self.parts = True, []
            return
        self.parts.append(text)
        self.chars += len(text)


class _Call:
    """One tool call, answered exactly once (by a worker, or by the timer at its deadline)."""

    def __init__(
        self,
        event: FunctionCallArgumentsDone,
        arguments: Any,
        tool: Tool | None,
        session: object,
    ) -> None:
        self.session = session  # the session that asked: a result goes back to it only
        self.name = event.name
        self.call_id = event.call_id
        self.arguments = arguments  # a dict, the text that was not a JSON object, or _TOO_LONG
        self.tool = tool
        self.timeout = tool.timeout if tool is not None else DEFAULT_TOOL_TIMEOUT
        self.deadline = time.monotonic() + self.timeout
        self.worker: threading.Thread | None = None  # set while a worker runs the tool
        self._answered = False
        self._lock = threading.Lock()

    @property
    def answered(self) -> bool:
        return self._answered

    def claim(self) -> bool:
        """True for the first caller only: that one sends the answer."""
        return self.claim_expired()[0]

    def claim_expired(self) -> tuple[bool, threading.Thread | None]:
        """``claim()``, and the worker running the tool at that moment (None if none)."""
        with self._lock:
            first, self._answered = not self._answered, True
            return first, self.worker

    def running_on(self, worker: threading.Thread | None) -> None:
        with self._lock:
            self.worker = worker


class _Job:
    """Plain work for the pool (``after_reply``), not a tool call."""

    def __init__(self, function: Callable[[], Any]) -> None:
        self.function = function


_TOO_LONG = object()  # the arguments' fragments went past MAX_ARGUMENT_CHARS


class ToolRunner:
    """Runs the registered tools for one client and answers every call."""

    def __init__(
        self,
        registry: ToolRegistry,
        send: Send,
        publish: Publish,
        current_session: Callable[[], object] = lambda: None,
        workers: int = 4,
        queue_size: int = 32,
    ) -> None:
        self._registry = registry
        self._send = send
        self._publish = publish
        self._current_session = current_session
        self._pool: WorkerPool[_Call | _Job] = WorkerPool(
            self._run_item, self._dropped, workers, queue_size
        )
        self._timer: DeadlineTimer[_Call] = DeadlineTimer(self._time_out, lambda c: c.answered)
        self._closed = threading.Event()
        self._fragments: collections.OrderedDict[str, _Fragments] = collections.OrderedDict()
        self.calls = self.answered = self.failed = self.late_results = self.orphaned = 0

    # ------------------------------------------------------------------ events (dispatcher)

    @property
    def active(self) -> bool:
        """Calls are answered only when the user registered Python tools: otherwise tool
        calls stay the user's business (their own ``on()`` callbacks)."""
        return len(self._registry) > 0

    def on_event(self, event: Event) -> None:
        """File one event; never blocks on a tool."""
        if isinstance(event, FunctionCallArgumentsDelta):
            self._keep_fragment(event)
        elif isinstance(event, FunctionCallArgumentsDone):
            self._submit(event)

    def _keep_fragment(self, event: FunctionCallArgumentsDelta) -> None:
        if event.call_id is None or not self.active:
            return
        fragments = self._fragments.get(event.call_id)
        if fragments is None:
            fragments = self._fragments[event.call_id] = _Fragments()
            while len(self._fragments) > MAX_PENDING_ARGUMENTS:
                self._fragments.popitem(last=False)
        fragments.add(event.delta)

    def _arguments(self, event: FunctionCallArgumentsDone) -> Any:
        """The decoded object; else the text that came; deltas when nothing else came."""
        fragments = self._fragments.pop(event.call_id, None) if event.call_id else None
        if event.arguments is not None:
            return dict(event.arguments)
        if event.arguments_json is not None:
            return event.arguments_json
        if fragments is None:
            return {}
        if fragments.overflowed:
            return _TOO_LONG
        text = "".join(fragments.parts)
        try:
            decoded = json.loads(text) if text.strip() else {}
        except (ValueError, RecursionError):
            return text
        return decoded if isinstance(decoded, dict) else text

    def _submit(self, event: FunctionCallArgumentsDone) -> None:
        if not self.active or self._closed.is_set():
            return
        self.calls += 1
        tool = self._registry.get(event.name)
        call = _Call(event, self._arguments(event), tool, self._current_session())
        if call.call_id is None:
            log.warning("tool call %r came without a call id: its result cannot be sent", call.name)
        if not self._pool.submit(call):
            self._fail(call, "busy", "too many tool calls are waiting; try again later", None)
            return
        self._timer.add(call.deadline, call)

    def run_later(self, function: Callable[[], Any]) -> None:
        """Run ``function()`` on a worker (for ``after_reply``); raises if the pool is full."""
        if self._closed.is_set():
            raise NotConnected("the client is closed")
        if not self._pool.submit(_Job(function)):
            if self._closed.is_set():
                raise NotConnected("the client is closed")
            raise NavTalkError("the tool workers are all busy; try again later")

    # ------------------------------------------------------------------ workers

    def _run_item(self, item: _Call | _Job) -> None:
        if isinstance(item, _Job):
            outcome = user_code.run(item.function)
            if isinstance(outcome, user_code.Failure):
                user_code.report(log, "after_reply() job", item.function, outcome)
                name = user_code.callback_name(item.function)
                self._publish(CallbackFailure(callback=name, error=outcome.error))
        elif not item.answered:  # a call that timed out while it waited is not run
            self._run(item)

    def _dropped(self, item: _Call | _Job) -> None:
        if isinstance(item, _Call):
            log.info("tool call %s dropped: the client closed", item.name)

    def _run(self, call: _Call) -> None:
        tool = call.tool
        if tool is None:
            known = ", ".join(t.name for t in self._registry) or "none"
            output = {"status": "ignored", "reason": f"no tool named {call.name!r}",
                      "tools": known}  # fmt: skip
            self._fail(call, "unknown", f"no tool named {call.name!r}", None, output)
            return
        kwargs = self._keyword_arguments(call, tool)
        if kwargs is None:
            return
        call.running_on(threading.current_thread())
        outcome = user_code.run(tool.function, **kwargs)
        call.running_on(None)
        if isinstance(outcome, user_code.Failure):
            error = outcome.error
            if call.answered:
                self.late_results += 1
                return
            # a tool that raises is often meant to (the model is told why): logged by _fail at
            # INFO, reported as an event, with no traceback on the user's console
            self._fail(call, "raised", f"{type(error).__name__}: {error}", error)
            return
        self._deliver(call, tool, outcome)

    def _keyword_arguments(self, call: _Call, tool: Tool) -> dict[str, Any] | None:
        """The call's arguments for ``tool``, or None once it has been answered with why not."""
        if call.arguments is _TOO_LONG:
            text = f"the arguments are longer than {MAX_ARGUMENT_CHARS} characters"
            self._fail(call, "bad_arguments", text, None)
            return None
        if not isinstance(call.arguments, dict):
            text = f"the arguments are not a JSON object: {str(call.arguments)[:200]!r}"
            self._fail(call, "bad_arguments", text, None)
            return None
        try:
            return tool.arguments(call.arguments)
        except BadArguments as exc:
            self._fail(call, "bad_arguments", str(exc), exc)
        except Exception as exc:  # a converter bug must not cost the call its answer
            log.exception("converting the arguments of tool call %s failed", call.name)
            self._fail(call, "bad_arguments", f"{type(exc).__name__}: {exc}", exc)
        return None

    def _deliver(self, call: _Call, tool: Tool, result: Any) -> None:
        try:
            output = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError) as exc:
            text = f"the tool returned a value that is not JSON: {type(result).__name__}"
            self._fail(call, "bad_result", text, exc)
            return
        if not call.claim():
            self.late_results += 1
            log.info("tool %s finished after its timeout; its result was dropped", call.name)
            return
        self.answered += 1
        self._answer(call, output, tool.auto_reply)

    def _time_out(self, call: _Call) -> None:
        """On the timer thread: the call's time is up, whether it waits or runs."""
        # the worker is read with the claim: one that has just answered is not abandoned
        first, worker = call.claim_expired()
        if not first:
            return
        message = f"the tool did not finish within {call.timeout:g} s"
        self._fail(call, "timeout", message, None, claimed=True)
        if worker is not None:
            self._pool.abandon(worker)

    def _fail(self, call: _Call, kind: str, message: str, error: BaseException | None,
              output: Any = None, claimed: bool = False) -> None:  # fmt: skip
        """Tell the model (so it is not left waiting) and the user (an event)."""
        if not claimed and not call.claim():
            return
        self.failed += 1
        log.info("tool call %s failed (%s): %s", call.name, kind, message)  # and an event
        self._publish(ToolFailure(name=call.name, call_id=call.call_id,
                                 kind=kind, message=message, error=error))  # fmt: skip
        if output is None:
            output = {"status": "error", "error": message}
        reply = call.tool.auto_reply if call.tool is not None else True
        self._answer(call, json.dumps(output, ensure_ascii=False), reply)

    def _answer(self, call: _Call, output: str, reply: bool) -> None:
        if call.call_id is None:
            return
        if call.session is not self._current_session():
            # the session was lost meanwhile: its call id means nothing to the new one
            self.orphaned += 1
            log.info("tool call %s outlived its session; its result was not sent", call.name)
            return
        try:
            self._send(messages.function_call_output(call.call_id, output))
            if reply:
                self._send(messages.response_create())
        except NavTalkError as exc:  # closed meanwhile, or a send queue that stays full
            log.info("could not answer tool call %s: %s", call.name, exc)

    # ------------------------------------------------------------------ closing

    def close(self, deadline: Deadline) -> None:
        """No new calls; wait until ``deadline`` for running ones, then return. Tools that will
        not return are left running on their threads (their results are dropped). Safe from a
        tool itself (e.g. a tool that hangs up): its own thread is not joined. Called again,
        it waits once more for what is still running."""
        self._closed.set()
        self._pool.close(deadline)
        self._timer.close(deadline)

    def stats(self) -> dict[str, int]:
        return {
            "tool_calls": self.calls,
            "tool_calls_answered": self.answered,
            "tool_calls_failed": self.failed,
            "tool_late_results": self.late_results,
            "tool_results_orphaned": self.orphaned,
            "tool_threads_abandoned": self._pool.abandoned_total,
        }
