"""A real speaking voice: the eSpeak NG library that the ``espeakng-loader`` package ships.

``EspeakVoice`` is a ``Voice`` (text -> (int16 samples, rate)) that calls eSpeak NG through
ctypes in its synchronous mode: ``espeak_Synth`` returns once the whole text is spoken, and the
samples arrive meanwhile through a callback, at eSpeak NG's native 22050 Hz.

eSpeak NG keeps its state in globals (one voice, one callback, one set of parameters per
process) and is not reentrant, so every call, from any ``EspeakVoice``, holds one process-wide
lock; the library is loaded and initialised once, at the first call.

Optional: ``espeakng-loader`` comes with the ``voice`` extra
(``pip install 'navtalk-sync[voice]'``).
``available()`` says whether it is installed; without it ``EspeakVoice()`` raises ImportError.
"""

from __future__ import annotations

import ctypes
import importlib.util
import threading
from typing import Any

import numpy as np

__all__ = ["EspeakVoice", "available", "INSTALL_HINT"]

#: What to tell a user who lacks the package.
INSTALL_HINT = "pip install 'navtalk-sync[voice]'"

# eSpeak NG's C API constants (speak_lib.h).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1  # words per minute
_PARAM_PITCH = 3  # 0-100, 50 is the voice's normal pitch
_NATIVE_RATE = 22050  # what espeak_Initialize reports; the real value is used for speech

# int callback(short *wav, int numsamples, espeak_EVENT *events); non-zero aborts.
_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

_lock = threading.Lock()  # guards every call into the library and the globals below
_library: _Library | None = None


def available() -> bool:
    """True when ``espeakng-loader`` (the library and its data) is installed."""
    return importlib.util.find_spec("espeakng_loader") is not None


class _Library:
    """The loaded, initialised library and the buffer its callback fills (one per process)."""

    def __init__(self) -> None:
        import espeakng_loader  # optional: raises ImportError without the ``voice`` extra

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,  # text
            ctypes.c_size_t,  # its size in bytes, with the NUL
            ctypes.c_uint,  # position
            ctypes.c_int,  # position type
            ctypes.c_uint,  # end position (0: none)
            ctypes.c_uint,  # flags
            ctypes.c_void_p,  # unique identifier (out, may be NULL)
            ctypes.c_void_p,  # user data
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        data_path = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0)
        if rate <= 0:
            raise RuntimeError(f"eSpeak NG failed to initialise (data at {data_path!r})")
        self.lib: Any = lib
        self.rate = rate
        self.pieces: list[np.ndarray] = []
        # Kept as an attribute: ctypes does not hold the callback alive for the library.
        self._callback = _SynthCallback(self._collect)
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: Any, count: int, _events: Any) -> int:
        if wav and count > 0:  # a NULL buffer marks the end of the text
            self.pieces.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0


def _loaded() -> _Library:
    global _library
    if _library is None:
        _library = _Library()
    return _library


class EspeakVoice:
    """eSpeak NG speaking English (``voice``, an eSpeak NG voice name) at ``words_per_minute``.

    The output is scaled so its loudest sample is ``peak`` of full scale: eSpeak NG's own level
    varies with the text, and a steady level keeps the avatar's mouth movements comparable.
    Raises ImportError when ``espeakng-loader`` is not installed, ValueError for an unknown
    voice name (at the first call) or bad settings.
    """

    def __init__(
        self, voice: str = "en-us", words_per_minute: int = 150, pitch: int = 50, peak: float = 0.7
    ) -> None:
        if not available():
            raise ImportError(f"EspeakVoice needs the espeakng-loader package: {INSTALL_HINT}")
        if not isinstance(voice, str) or not voice:
            raise ValueError(
                f"voice must be an eSpeak NG voice name such as 'en-us', not {voice!r}"
            )
        if not 80 <= words_per_minute <= 450:
            raise ValueError(f"words_per_minute must be from 80 to 450, got {words_per_minute!r}")
        if not 0 <= pitch <= 100:
            raise ValueError(f"pitch must be from 0 to 100, got {pitch!r}")
        if not 0 < peak <= 1:
            raise ValueError(f"peak must be above 0 and at most 1, got {peak!r}")
        self.voice = voice
        self.words_per_minute = int(words_per_minute)
        self.pitch = int(pitch)
        self.peak = float(peak)

    def __call__(self, text: str) -> tuple[np.ndarray, int]:
        if not text.strip():  # eSpeak NG would still give a short silence
            return np.zeros(0, np.int16), _NATIVE_RATE
        encoded = text.encode("utf-8") + b"\0"
        with _lock:
            library = _loaded()
            lib = library.lib
            # Settings are global in the library: set them on every call, under the lock.
            if lib.espeak_SetVoiceByName(self.voice.encode()) != 0:
                raise ValueError(f"eSpeak NG has no voice named {self.voice!r}")
            lib.espeak_SetParameter(_PARAM_RATE, self.words_per_minute, 0)
            lib.espeak_SetParameter(_PARAM_PITCH, self.pitch, 0)
            library.pieces = []
            status = lib.espeak_Synth(
                encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            pieces, library.pieces = library.pieces, []
            rate = library.rate
        if status != 0:
            raise RuntimeError(f"eSpeak NG failed to speak (error {status})")
        samples = np.concatenate(pieces) if pieces else np.zeros(0, np.int16)
        return self._scaled(samples.astype(np.int16, copy=False)), rate

    def _scaled(self, samples: np.ndarray) -> np.ndarray:
        loudest = int(np.abs(samples.astype(np.int32)).max()) if samples.size else 0
        if loudest == 0:
            return samples
        gain = self.peak * 32767 / loudest
        return np.round(samples * gain).astype(np.int16)

    def __repr__(self) -> str:
        return f"EspeakVoice(voice={self.voice!r}, words_per_minute={self.words_per_minute})"
