"""``python -m benchmarks.sink --port P``: an HTTP server that reads uploads and forgets them.

A stand-in for a server much faster than the built-in simulator (which parses
the multipart body and hashes every byte in Python): it only counts the
bytes, so what an upload to it measures is the client's own speed. Every
request gets ``{"taskId": "sink"}``.
"""

from __future__ import annotations

import socketserver

import click

BUFFER = 1 << 20
ANSWER = b'{"taskId": "sink"}'


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        buffer = bytearray(BUFFER)
        view = memoryview(buffer)
        while True:  # keep-alive: one request after another on the connection
            length = self._headers()
            if length is None:
                return
            while length > 0:
                count = self.rfile.readinto(view[: min(BUFFER, length)])
                if not count:
                    return
                length -= count
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(ANSWER), ANSWER)
            )

    def _headers(self) -> int | None:
        """The request's Content-Length (0 if none); None when the client has gone."""
        length = 0
        line = self.rfile.readline()
        if not line:
            return None
        while line not in (b"\r\n", b"\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            line = self.rfile.readline()
        return length


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, required=True)
def main(host: str, port: int) -> None:
    """Serve until killed."""
    with _Server((host, port), _Handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
