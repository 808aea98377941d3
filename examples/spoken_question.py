"""Send a recorded question (a WAV, MP3... file) and print what the server heard and the reply.

``expect()`` starts listening before the file is sent, so a transcript that arrives while the
file is still going up is not missed; the silence after the file is the pause the server's
voice activity detection waits for before it takes the question as finished.

    python examples/spoken_question.py question.wav
"""

import sys

import navtalk_sync as nt
from navtalk_sync.server import LocalServer

path = sys.argv[1]
with (
    LocalServer() as server,
    nt.NavTalkClient(server.license, avatar_name="navtalk.Leo", url=server.url) as client,
):
    client.connect(timeout=10)
    heard = client.expect("realtime.conversation.item.input_audio_transcription.completed")
    reply = client.expect("realtime.response.audio_transcript.done")
    with heard, reply:
        client.send_file(path)
        client.send_silence(0.8)
    print("you:   ", heard.result(timeout=30).text)
    print("avatar:", reply.result(timeout=30).text)
