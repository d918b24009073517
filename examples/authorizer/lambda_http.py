#!/usr/bin/env python3
"""Serves an AWS Lambda handler over HTTP, answering as Lambda's Invoke API does.

    python3 lambda_http.py --port 9001 handler.lambda_handler

Every POST, on any path, is one invocation: the request body is the JSON event, and the
handler is called as Lambda calls it, handler(event, context). The answer is 200 with the
handler's return value as JSON. When the handler raises, the answer is still 200, with
{"errorMessage": ..., "errorType": ...} and the header X-Amz-Function-Error: Unhandled,
which is what Lambda's Invoke API returns for a failed function.

The handler module is looked up next to this file, then in the current directory.
Only the Python 3 standard library is used.
"""

import argparse
import importlib
import json
import os
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LambdaContext:
    """The few parts of Lambda's context object that handlers commonly read."""

    def __init__(self, function_name, timeout_s):
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = function_name
        self.function_version = '$LATEST'
        self.memory_limit_in_mb = '128'
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(spec):
    module_name, _, function_name = spec.rpartition('.')
    if not module_name:
        sys.exit(f'lambda_http: handler must be MODULE.FUNCTION, e.g. handler.lambda_handler, not {spec!r}')
    return getattr(importlib.import_module(module_name), function_name)


def make_request_handler(handler, function_name, timeout_s):
    class Invoke(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'  # keep-alive: callers may reuse connections

        def do_POST(self):
            try:
                event = json.loads(self.read_body() or b'null')
            except ValueError as e:
                self.answer(400, {'errorMessage': f'Could not parse request body into json: {e}',
                                  'errorType': 'InvalidRequestContentException'})
                return
            context = LambdaContext(function_name, timeout_s)
            try:
                result = json.dumps(handler(event, context))
            except Exception as e:  # what Lambda reports as an unhandled function error
                print(f'[ERROR] {type(e).__name__}: {e}', file=sys.stderr, flush=True)
                self.answer(200, {'errorMessage': str(e), 'errorType': type(e).__name__},
                            {'X-Amz-Function-Error': 'Unhandled'})
                return
            self.answer(200, result)

        def read_body(self):
            if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
                body = b''
                while True:
                    size = int(self.rfile.readline().split(b';')[0].strip() or b'0', 16)
                    if size == 0:
                        while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                            pass  # trailers
                        return body
                    body += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get('Content-Length') or 0))

        def answer(self, status, payload, headers=None):
            body = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass  # quiet: one line per request would drown the output

    return Invoke


def main():
    parser = argparse.ArgumentParser(description='Serve an AWS Lambda handler over HTTP.')
    parser.add_argument('handler', help='MODULE.FUNCTION, e.g. handler.lambda_handler')
    parser.add_argument('--host', default='127.0.0.1', help='address to bind (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=9001, help='port to bind; 0 picks a free one (default 9001)')
    parser.add_argument('--timeout', type=float, default=10.0,
                        help="seconds reported by get_remaining_time_in_millis() at the start (default 10)")
    args = parser.parse_args()

    for path in (os.getcwd(), os.path.dirname(os.path.abspath(__file__))):
        if path not in sys.path:
            sys.path.insert(0, path)
    handler = load_handler(args.handler)
    function_name = args.handler.rpartition('.')[0]

    server = ThreadingHTTPServer((args.host, args.port), make_request_handler(handler, function_name, args.timeout))
    server.daemon_threads = True
    host, port = server.server_address[:2]
    print(f'listening on http://{host}:{port}', flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == '__main__':
    main()
