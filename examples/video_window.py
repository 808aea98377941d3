"""Watch the avatar: its frames in an OpenCV window, or saved as PNG files without one.

    python examples/video_window.py [folder] [--every N] [--seconds S]

Runs against the local server (no licence needed) and asks a question, so the avatar speaks
while you watch. With OpenCV (``pip install opencv-python``) and a display, the frames show in
a window (press q to close it early). Without either (a server, CI, ssh), every Nth frame is
saved into ``folder`` instead.
"""

import argparse
import os
import sys
import time
from pathlib import Path

try:
    # Before navtalk_sync: it loads PyAV, whose bundled libxcb makes OpenCV's window hang at
    # 100% CPU when PyAV was loaded first (PyAV issue 978).
    import cv2
except ImportError:
    cv2 = None

import navtalk_sync as nt
from navtalk_sync.server import LocalServer


def open_window() -> str | None:
    """Opens the window; or says why no window can be shown here."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return "no display"
    if cv2 is None:
        return "OpenCV is not installed"
    try:
        cv2.namedWindow("avatar")
    except cv2.error:  # opencv-python-headless: no GUI support compiled in
        return "this OpenCV has no GUI support"
    return None


def show_in_window(client: nt.NavTalkClient, seconds: float) -> None:
    """GUI calls stay on this (the main) thread: it polls the newest frame and shows it."""
    shown = -1
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        frame = client.latest_frame()
        if frame is not None and frame.index != shown:
            cv2.imshow("avatar", cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
            shown = frame.index
        if cv2.waitKey(10) & 0xFF == ord("q"):
            break
    cv2.destroyAllWindows()
    print(f"showed the avatar for up to {seconds:g} s")


class PictureSaver:
    """Saves every ``every``-th frame it is given as ``frame_0001.png``, ``frame_0002.png``..."""

    def __init__(self, folder: Path, every: int) -> None:
        self.folder = folder
        self.every = every
        self.seen = 0
        self.saved: list[Path] = []
        self.size = "none"

    def __call__(self, frame: nt.VideoFrame) -> None:
        # Runs on the navtalk-video thread; saving takes a few ms, and a slow callback only
        # makes the client skip frames (counted), never queue them up.
        self.seen += 1
        if self.seen % self.every == 0:
            path = self.folder / f"frame_{len(self.saved) + 1:04d}.png"
            frame.save(path)
            self.saved.append(path)
            self.size = f"{frame.width}x{frame.height}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="frames", help="where PNGs go headless")
    parser.add_argument("--every", type=int, default=25, help="save every Nth frame (25)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to watch (5)")
    options = parser.parse_args()

    no_window = open_window()
    with (
        LocalServer() as server,
        nt.NavTalkClient(server.license, avatar_name="navtalk.Leo", url=server.url) as client,
    ):
        saver = None
        if no_window:
            folder = Path(options.folder)
            folder.mkdir(parents=True, exist_ok=True)
            print(f"no window ({no_window}): saving every {options.every}th frame to {folder}")
            saver = PictureSaver(folder, options.every)
            client.on_video_frame(saver)
        client.connect(timeout=15)
        client.wait_for_video(timeout=15)
        client.send_text("What can you do?")  # so the avatar talks while we watch
        if not no_window:
            show_in_window(client, options.seconds)
        else:
            time.sleep(options.seconds)
    if saver is not None:  # the client is closed: no callback can run any more
        print(f"saved {len(saver.saved)} pictures ({saver.size}) of {saver.seen} frames")


if __name__ == "__main__":
    main()
