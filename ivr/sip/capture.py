"""Listening to a call leg through pjmedia's memory capture port, reached with ctypes.

pjsua2 2.12 has no AudioMediaPort, so the caller's audio is tapped with the pjmedia C API
from the same shared libraries the pjsua2 module links. A capture port fills a 100 ms buffer
and calls back inside the bridge's tick (the pj thread, ivr.sip.clock); the callback copies the
bytes to a sink and returns.
Create and destroy only on the pj thread (ivr.sip.engine).
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

_EOF_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
_lib: ctypes.CDLL | None = None


def _pjsua() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        import pjsua2

        path = Path(os.path.dirname(pjsua2.__file__)) / "libpjsua.so.2"
        lib = ctypes.CDLL(str(path))
        lib.pjsua_pool_create.restype = ctypes.c_void_p
        lib.pjsua_pool_create.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t]
        lib.pjmedia_mem_capture_create.restype = ctypes.c_int
        lib.pjmedia_mem_capture_create.argtypes = [
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_void_p),
        ]
        lib.pjmedia_mem_capture_set_eof_cb2.restype = ctypes.c_int
        lib.pjmedia_mem_capture_set_eof_cb2.argtypes = [ctypes.c_void_p, ctypes.c_void_p, _EOF_CB]
        lib.pjsua_conf_add_port.restype = ctypes.c_int
        lib.pjsua_conf_add_port.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
        lib.pjsua_conf_connect.restype = ctypes.c_int
        lib.pjsua_conf_connect.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.pjsua_conf_remove_port.restype = ctypes.c_int
        lib.pjsua_conf_remove_port.argtypes = [ctypes.c_int]
        lib.pjmedia_port_destroy.restype = ctypes.c_int
        lib.pjmedia_port_destroy.argtypes = [ctypes.c_void_p]
        lib.pj_pool_release.restype = None
        lib.pj_pool_release.argtypes = [ctypes.c_void_p]
        lib.pjsua_call_get_max_count.restype = ctypes.c_uint
        _lib = lib
    return _lib


def quiet_pjlib() -> None:
    """Silence pjlib's console log until libInit installs our log writer."""
    import pjsua2

    # libpj is already loaded by the pjsua2 module; this only looks it up.
    lib = ctypes.CDLL(str(Path(os.path.dirname(pjsua2.__file__)) / "libpj.so.2"))
    lib.pj_log_set_level(ctypes.c_int(0))


def max_calls() -> int:
    """The compiled-in concurrent call limit (pjsua cuts uaConfig.maxCalls to it silently)."""
    return int(_pjsua().pjsua_call_get_max_count())


class Capture:
    """Taps one conference slot; `sink(pcm)` gets 16-bit mono PCM every `chunk_ms`."""

    def __init__(self, source_slot: int, clock_rate: int, sink: Callable[[bytes], None], chunk_ms: int = 100):
        lib = _pjsua()
        self._lib = lib
        self._sink = sink
        self._size = clock_rate * 2 * chunk_ms // 1000
        self._buf = ctypes.create_string_buffer(self._size)
        self._pool = lib.pjsua_pool_create(b"capture", 1024, 1024)
        if not self._pool:
            raise RuntimeError("pjsua_pool_create failed")
        self._port = ctypes.c_void_p()
        spf = clock_rate * 20 // 1000
        status = lib.pjmedia_mem_capture_create(
            self._pool, self._buf, self._size, clock_rate, 1, spf, 16, 0, ctypes.byref(self._port)
        )
        if status != 0:
            lib.pj_pool_release(self._pool)
            raise RuntimeError(f"pjmedia_mem_capture_create failed: {status}")
        self._cb = _EOF_CB(self._on_full)  # kept alive as long as the port
        lib.pjmedia_mem_capture_set_eof_cb2(self._port, None, self._cb)
        slot = ctypes.c_int(-1)
        status = lib.pjsua_conf_add_port(self._pool, self._port, ctypes.byref(slot))
        if status != 0:
            lib.pjmedia_port_destroy(self._port)
            lib.pj_pool_release(self._pool)
            raise RuntimeError(f"pjsua_conf_add_port failed: {status}")
        self.slot = slot.value
        lib.pjsua_conf_connect(source_slot, self.slot)
        self._closed = False

    def _on_full(self, _port: int | None, _user: int | None) -> None:
        # inside the bridge's tick: copy and return; never raise into C.
        try:
            self._sink(ctypes.string_at(self._buf, self._size))
        except Exception:  # pragma: no cover - defensive, logged
            log.exception("capture sink failed")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._lib.pjsua_conf_remove_port(self.slot)
        self._lib.pjmedia_port_destroy(self._port)
        self._lib.pj_pool_release(self._pool)
