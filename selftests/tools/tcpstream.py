#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""TCP streams that run until told to stop, checked end to end (stress test).

  tcpstream.py sink PORT OUT
        accept connections on PORT (both families); hash what each one
        carries and, at its end (EOF), answer "BYTES SHA256" and append
        "PEER BYTES SHA256" to OUT; OUT.progress holds the bytes received
        so far by all connections (rewritten twice a second)
  tcpstream.py source HOST PORT N RATE STOP OUT [TIMEOUT]
        N connections, each sending deterministic data at RATE bytes/s
        until the file STOP exists, then closing its sending side and
        comparing the sink's answer with what it sent; OUT gets one line
        "ok|bad SENT_BYTES SENT_SHA256 ANSWER" per connection once all are
        done; exit 0 when all are ok. Gives up after TIMEOUT s (600): a
        connection still sending then is "bad", its answer prefixed with
        "deadline:" (the test outlived the stream it relies on)
  tcpstream.py churn HOST PORT N PARALLEL OUT
        N short connections, PARALLEL at a time: each sends 1000 bytes,
        closes its sending side and checks the answer; OUT: "ok N bad N"
"""
import hashlib
import os
import random
import socket
import sys
import threading
import time

PATTERN = random.Random(20261123).randbytes(1 << 16)


def sink(port, out):
    lock = threading.Lock()
    total = [0]

    def one(conn, peer):
        h = hashlib.sha256()
        n = 0
        try:
            while True:
                b = conn.recv(65536)
                if not b:
                    break
                h.update(b)
                n += len(b)
                with lock:
                    total[0] += len(b)
            conn.sendall(f'{n} {h.hexdigest()}\n'.encode())
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            conn.close()
        with lock, open(out, 'a') as f:
            f.write(f'{peer} {n} {h.hexdigest()}\n')

    def progress():
        while True:
            with lock:
                n = total[0]
            with open(out + '.progress.tmp', 'w') as f:
                f.write(f'{n}\n')
            os.replace(out + '.progress.tmp', out + '.progress')
            time.sleep(0.5)

    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(('::', port))
    s.listen(128)
    threading.Thread(target=progress, daemon=True).start()
    while True:
        conn, addr = s.accept()
        peer = f'{addr[0].removeprefix("::ffff:")}/{addr[1]}'
        threading.Thread(target=one, args=(conn, peer), daemon=True).start()


def connect(host, port, deadline):
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    while True:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(max(1.0, min(10.0, deadline - time.monotonic())))
        try:
            s.connect((host, port))
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def answer(s):
    buf = b''
    while True:
        b = s.recv(4096)
        if not b:
            return buf.decode(errors='replace').strip()
        buf += b


def source(host, port, n, rate, stop, out, timeout=600.0):
    deadline = time.monotonic() + timeout
    results = [None] * n

    def one(i):
        h = hashlib.sha256()
        sent = 0
        expired = False
        try:
            s = connect(host, port, deadline)
            s.settimeout(0.5)
            start = time.monotonic()
            while not os.path.exists(stop) and time.monotonic() < deadline:
                due = int((time.monotonic() - start) * rate) - sent
                if due <= 0:
                    time.sleep(0.05)
                    continue
                off = (sent + i * 4099) % len(PATTERN)
                chunk = PATTERN[off:off + min(due, 8192)]
                try:
                    k = s.send(chunk)
                except socket.timeout:
                    continue
                h.update(chunk[:k])
                sent += k
            expired = not os.path.exists(stop)
            s.settimeout(max(1.0, deadline - time.monotonic()))
            s.shutdown(socket.SHUT_WR)
            ans = answer(s)
            s.close()
        except OSError as e:
            ans = f'error:{e.__class__.__name__}'
        mine = f'{sent} {h.hexdigest()}'
        good = ans == mine and not expired
        if expired:
            ans = f'deadline:{ans}'
        results[i] = f'{"ok" if good else "bad"} {mine} {ans}'

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(out, 'w') as f:
        f.write(''.join(r + '\n' for r in results))
    return 0 if all(r.startswith('ok ') for r in results) else 1


def churn(host, port, n, parallel, out):
    lock = threading.Lock()
    count = {'ok': 0, 'bad': 0}
    todo = list(range(n))

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            data = PATTERN[i % 1000:i % 1000 + 1000]
            want = f'{len(data)} {hashlib.sha256(data).hexdigest()}'
            try:
                s = connect(host, port, time.monotonic() + 30)
                s.settimeout(30)
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                ok = answer(s) == want
                s.close()
            except OSError:
                ok = False
            with lock:
                count['ok' if ok else 'bad'] += 1

    threads = [threading.Thread(target=worker) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(out, 'w') as f:
        f.write(f'ok {count["ok"]} bad {count["bad"]}\n')
    return 0 if count['bad'] == 0 else 1


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'sink':
        sink(int(args[0]), args[1])
    elif cmd == 'source':
        sys.exit(source(args[0], int(args[1]), int(args[2]), float(args[3]), args[4],
                        args[5], *(float(a) for a in args[6:7])))
    elif cmd == 'churn':
        sys.exit(churn(args[0], int(args[1]), int(args[2]), int(args[3]), args[4]))
    else:
        sys.exit(f'usage: see {sys.argv[0]}')
