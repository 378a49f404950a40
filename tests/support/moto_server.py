"""Runs moto's AWS emulator for the test suite on 127.0.0.1:PORT until stdin closes.

Started by the tests themselves: when the test process ends, for whatever reason, the pipe
to our stdin closes and the emulator stops, so no server is ever left behind.

Requests are handled one at a time. moto applies a DynamoDB transaction's condition checks
and writes without isolation from concurrent requests, so two racing transactions can both
succeed; real DynamoDB serializes them. Serializing here keeps that guarantee, which the
adapter contract (gapless numbering under concurrency) relies on.
"""
import sys
import threading

from werkzeug.serving import make_server

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

moto_app = DomainDispatcherApplication(create_backend_app)
one_at_a_time = threading.Lock()


def app(environ, start_response):
    with one_at_a_time:
        return list(moto_app(environ, start_response))


server = make_server("127.0.0.1", int(sys.argv[1]), app, True, request_handler=MotoRequestHandler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
server.shutdown()
