"""A Tkinter kiosk: the avatar's picture, a transcript, and a line to type questions in.

    python examples/tk_kiosk.py              # a window; type, press Enter
    python examples/tk_kiosk.py --selftest   # asks one question by itself, prints, exits

Runs against the local server (no licence needed). It shows the pattern every GUI app needs:
Tk may only be touched from the thread that runs its main loop, and the library calls back on
its own threads. So the callbacks only put what they get into a queue, and the Tk main loop
takes it from there (``root.after`` polling); the avatar's newest picture is fetched the same
way with ``client.latest_frame()``.

Why not ``root.after(0, ...)`` straight from a callback: from another thread that call waits
for the Tk thread, and when the Tk thread is itself waiting in ``client.close()`` for the
callback to finish, neither goes on. A queue never waits for Tk.
"""

import argparse
import queue
import threading
import tkinter as tk

import navtalk_sync as nt
from navtalk_sync.server import LocalServer

QUESTION = "What can you do?"  # what --selftest types
SELFTEST_FRAMES = 10  # and how many pictures it shows before it is satisfied
SELFTEST_SECONDS = 30  # when --selftest gives up
POLL_MS = 40  # how often the Tk loop takes events and the newest picture (25 times a second)


def ppm(image) -> bytes:
    """An RGB array as PPM bytes, which Tk's PhotoImage reads without any imaging library."""
    height, width = image.shape[:2]
    return f"P6 {width} {height} 255 ".encode() + image.tobytes()


class Kiosk:
    """The window; every method runs on the Tk thread."""

    def __init__(self, root: tk.Tk, client: nt.NavTalkClient, selftest: bool) -> None:
        self.root = root
        self.client = client
        self.selftest = selftest
        # From the library's threads to the Tk thread. Bounded; when full (the window hangs),
        # callbacks drop the event rather than wait for Tk, and the drop is counted.
        self.inbox: queue.Queue = queue.Queue(maxsize=1000)
        self.dropped = 0
        self.shown_frame = -1
        self.frames_shown = 0
        self.replies = 0
        self.finished = False
        self.failed = False  # --selftest: exit with 1
        self.connector = threading.Thread(target=self.connect, name="kiosk-connect")

        root.title("NavTalk kiosk")
        self.picture = tk.Label(root, text="(waiting for the avatar's picture)", width=32)
        self.picture.pack(padx=8, pady=8)
        self.status = tk.Label(root, text="connecting...", anchor="w")
        self.status.pack(fill="x", padx=8)
        self.transcript = tk.Text(root, height=8, width=60, wrap="word", state="disabled")
        self.transcript.pack(fill="both", expand=True, padx=8, pady=4)
        row = tk.Frame(root)
        row.pack(fill="x", padx=8, pady=8)
        self.entry = tk.Entry(row)
        self.entry.pack(side="left", fill="x", expand=True)
        self.entry.bind("<Return>", lambda _: self.send())
        self.send_button = tk.Button(row, text="Send", command=self.send, state="disabled")
        self.send_button.pack(side="right")
        root.protocol("WM_DELETE_WINDOW", self.close)

        for name in (
            "client.state",
            "realtime.response.audio_transcript.delta",
            "realtime.response.audio_transcript.done",
            "client.disconnected",
        ):
            client.on(name, self.post)
        self.connector.start()  # connecting takes a while: not on the Tk thread
        root.after(POLL_MS, self.poll)

    # --------------------------------------------------------------- other threads

    def connect(self) -> None:
        """On ``kiosk-connect``: the outcome goes through the inbox like any event."""
        try:
            self.client.connect(timeout=15)
            self.post("connected")
        except nt.NavTalkError as exc:
            self.post(exc)

    def post(self, item) -> None:
        """On the library's threads (and ``kiosk-connect``): hand over, never touch Tk."""
        try:
            self.inbox.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    # --------------------------------------------------------------- the Tk thread

    def poll(self) -> None:
        while not self.finished:
            try:
                self.handle(self.inbox.get_nowait())
            except queue.Empty:
                break
        self.show_newest_picture()
        if self.selftest and self.replies and self.frames_shown >= SELFTEST_FRAMES:
            self.finish()
        if not self.finished:
            self.root.after(POLL_MS, self.poll)

    def handle(self, item) -> None:
        if item == "connected":
            self.send_button.configure(state="normal")
            self.entry.focus_set()
            if self.selftest:
                self.entry.insert(0, QUESTION)  # as a visitor would type it
                self.send_button.invoke()
        elif isinstance(item, nt.NavTalkError):
            self.status.configure(text=f"cannot connect: {item}")
            if self.selftest:
                self.finish(f"selftest failed: {item}")
        elif item.type == "client.state":
            self.status.configure(text=f"state: {item.state}")
        elif item.type == "realtime.response.audio_transcript.delta":
            self.write(item.text)
        elif item.type == "realtime.response.audio_transcript.done":
            self.write("\n")
            self.replies += 1
        elif item.type == "client.disconnected":
            self.send_button.configure(state="disabled")

    def show_newest_picture(self) -> None:
        if self.finished:
            return
        frame = self.client.latest_frame()
        if frame is None or frame.index == self.shown_frame:
            return
        photo = tk.PhotoImage(data=ppm(frame.image[::2, ::2]), format="PPM")  # half size
        self.picture.configure(image=photo, width=photo.width(), height=photo.height())
        self.picture.image = photo  # Tk shows nothing once Python forgets the image
        self.shown_frame = frame.index
        self.frames_shown += 1

    def send(self) -> None:
        text = self.entry.get().strip()
        if not text or str(self.send_button["state"]) == "disabled":
            return
        self.entry.delete(0, "end")
        self.write(f"you:    {text}\navatar: ")
        self.client.send_text(text)  # only queues it: the window stays responsive

    def write(self, text: str) -> None:
        self.transcript.configure(state="normal")
        self.transcript.insert("end", text)
        self.transcript.see("end")
        self.transcript.configure(state="disabled")

    def finish(self, failure: str | None = None) -> None:
        """--selftest: report what the window shows, then close."""
        if self.finished:
            return
        print(self.transcript.get("1.0", "end").strip())
        photo = getattr(self.picture, "image", None)
        size = f"{photo.width()}x{photo.height()}" if photo else "none"
        print(f"showed {self.frames_shown} picture(s) ({size})")
        if self.dropped:
            print(f"({self.dropped} event(s) dropped: the window fell behind)")
        if failure:
            print(failure)
            self.failed = True
        self.close()

    def close(self) -> None:
        self.finished = True  # the queued events and pending polls have no window to go to
        self.client.close()  # callbacks only queue, so this never waits for Tk
        self.connector.join()
        self.root.destroy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--selftest", action="store_true", help="ask one question and exit")
    options = parser.parse_args()
    with LocalServer() as server:
        # speaker=True would play the avatar's voice; the picture comes with media (default)
        client = nt.NavTalkClient(server.license, avatar_name="navtalk.Leo", url=server.url)
        root = tk.Tk()
        kiosk = Kiosk(root, client, options.selftest)
        if options.selftest:
            failure = f"selftest failed: not done in {SELFTEST_SECONDS} s"
            root.after(SELFTEST_SECONDS * 1000, kiosk.finish, failure)
        root.mainloop()
        client.close()  # already closed unless the loop ended some other way
    raise SystemExit(1 if kiosk.failed else 0)


if __name__ == "__main__":
    main()
