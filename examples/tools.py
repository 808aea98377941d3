"""An avatar that books a table through a Python function, then hangs up after its goodbye.

    python examples/tools.py

Runs against the local server (no licence needed). Its rule brain calls a registered tool
when the user's words mention it, with the arguments it can read from them; the function
runs on a navtalk-tool worker, and the avatar's next reply speaks its result
(protocol.md#tool-calls).
"""

from __future__ import annotations

from typing import Literal

import navtalk_sync as nt
from navtalk_sync.server import LocalServer

bookings: list[dict] = []


def book_table(guests: int, time: str, area: Literal["inside", "terrace"] = "inside") -> dict:
    """Book a table at the restaurant.

    Args:
        guests: How many people are coming.
        time: When they arrive, e.g. 7pm.
        area: Where they would like to sit.
    """
    if guests > 8:
        raise ValueError("we have no table for more than 8 people")
    bookings.append({"guests": guests, "time": time, "area": area})
    return {"booking": f"T-{len(bookings)}", "table": f"{guests} guests at {time}, {area}"}


with LocalServer() as server:
    # media=False: a text conversation, no need for the avatar's picture and voice here
    client = nt.NavTalkClient(
        server.license, avatar_name="navtalk.Leo", url=server.url, media=False,
        tools=[book_table],  # a Python function: its schema comes from its hints and docstring
    )  # fmt: skip

    @client.tool  # a trigger (auto_reply=False would skip the reply about its result)
    def end_call() -> str:
        """Hang up once the user is done."""
        client.after_reply(client.close, grace=0.5)  # once the goodbye has been heard
        return "Goodbye, enjoy your meal!"

    @client.on("client.tool_error")
    def tool_failed(event: nt.events.ToolFailure) -> None:
        print(f"(tool {event.name} failed: {event.message})")

    with client:
        client.connect(timeout=10)
        for text in ("Please book a table for 4 at 7pm on the terrace.",
                     "Book another table for 12 at 8pm."):  # fmt: skip
            print("you:   ", text)
            print("avatar:", client.ask(text, timeout=20))
        print("you:    Thanks, you can end the call now.")
        with client.events("realtime.response.audio_transcript.done") as replies:
            client.send_text("Thanks, you can end the call now.")
            for reply in replies:  # until the session ends: end_call hangs up
                print("avatar:", reply.text)
        print("(the avatar hung up)")
    print("bookings:", bookings)
