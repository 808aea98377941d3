"""The pocketsphinx decoder in a child process (``python -m navtalk_sync.server.ear_worker``).

pocketsphinx holds the GIL while it decodes (about a second for a short sentence), which froze
everything else in the server's process, the avatar's video first. Here it has a process of its
own. The protocol on stdin/stdout: the parent writes a 4-byte big-endian length and that many
bytes of 16 kHz mono PCM16; the child answers with the words heard on one UTF-8 line. It ends
when its stdin closes.
"""

from __future__ import annotations

import struct
import sys

MODEL_RATE = 16000


def main() -> int:
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=MODEL_RATE, logfn="/dev/null")
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = source.read(4)
        if len(header) < 4:
            return 0
        (size,) = struct.unpack(">I", header)
        audio = source.read(size)
        decoder.start_utt()
        decoder.process_raw(audio, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        words = hypothesis.hypstr.strip() if hypothesis is not None else ""
        sink.write(words.replace("\n", " ").encode("utf-8") + b"\n")
        sink.flush()


if __name__ == "__main__":
    sys.exit(main())
