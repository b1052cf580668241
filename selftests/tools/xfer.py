#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A paced TCP download with a known checksum, for the selftests.

  xfer.py server PORT BYTES RATE [HOLD GO]
                                        serve BYTES of deterministic data at
                                        RATE bytes/s to each client, then close;
                                        with HOLD GO: stop after HOLD bytes
                                        until the file GO exists
  xfer.py client HOST PORT TIMEOUT OUT [STALL]
                                        download until EOF, TIMEOUT seconds, or
                                        STALL seconds without data (default 60);
                                        write "bytes sha256 seconds" to OUT
                                        (progress every second in OUT.progress;
                                        in OUT.gaps, for each pause of data of
                                        GAP seconds or more, the wall-clock time
                                        data came again and the pause's length)
  xfer.py expect BYTES                  print "BYTES sha256" of the data
"""
import hashlib
import os
import random
import socket
import sys
import threading
import time

CHUNK = 8192
GAP = 0.5


def data(n):
    """Deterministic, incompressible bytes (fast: made in C, even under TCG)."""
    return random.Random(20261122).randbytes(n)


def serve_one(conn, payload, rate, hold, go):
    start = time.monotonic()
    sent = 0
    base = 0
    waited = not go
    try:
        while sent < len(payload):
            if not waited and sent >= hold:
                waited = True
                # The test makes its move (a WAN outage) while we wait,
                # then data flows again into it, however slow the test.
                while not os.path.exists(go):
                    time.sleep(0.05)
                start = time.monotonic()
                base = sent
            due = start + (sent - base) / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent += conn.send(payload[sent:sent + CHUNK])
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1)
    except OSError:
        pass
    finally:
        conn.close()


def server(port, nbytes, rate, hold=0, go=None):
    payload = data(nbytes)
    family = socket.AF_INET6
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(('::', port))
    s.listen(16)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve_one, args=(conn, payload, rate, hold, go), daemon=True).start()


def client(host, port, timeout, out, stall):
    h = hashlib.sha256()
    n = 0
    start = time.monotonic()
    last = 0
    last_data = start
    try:
        s = socket.create_connection((host, port), timeout=min(timeout, 60))
        s.settimeout(1)
        while time.monotonic() - start < timeout:
            try:
                b = s.recv(65536)
            except socket.timeout:
                b = None
            except OSError:
                break
            if b == b'':
                break
            if b:
                h.update(b)
                n += len(b)
                now = time.monotonic()
                if n > len(b) and now - last_data >= GAP:
                    with open(out + '.gaps', 'a') as f:
                        f.write(f'{time.time():.6f} {now - last_data:.3f}\n')
                last_data = now
            elif time.monotonic() - last_data > stall:
                break
            if time.monotonic() - last >= 1:
                last = time.monotonic()
                with open(out + '.progress', 'w') as f:
                    f.write(f'{n}\n')
    except OSError as e:
        sys.stderr.write(f'xfer: {e}\n')
    with open(out + '.progress', 'w') as f:
        f.write(f'{n}\n')
    with open(out, 'w') as f:
        f.write(f'{n} {h.hexdigest()} {time.monotonic() - start:.1f}\n')


def main():
    mode = sys.argv[1]
    if mode == 'server':
        server(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]),
               *((int(sys.argv[5]), sys.argv[6]) if len(sys.argv) > 6 else ()))
    elif mode == 'client':
        client(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5],
               float(sys.argv[6]) if len(sys.argv) > 6 else 60.0)
    elif mode == 'expect':
        n = int(sys.argv[2])
        print(n, hashlib.sha256(data(n)).hexdigest())
    return 0


if __name__ == '__main__':
    sys.exit(main())
