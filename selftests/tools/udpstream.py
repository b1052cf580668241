#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A VoIP-like UDP stream for the selftests.

  udpstream.py send DST PORT [INTERVAL_MS [SECONDS [SPORT [COUNT]]]]   one
        datagram every INTERVAL_MS (default 20) for SECONDS (default 600),
        from source port SPORT (default 40000), each carrying a sequence
        number; COUNT > 1 (default 1): as many flows, from source ports
        SPORT.., each datagram carrying its sequence number and its flow's
        index
  udpstream.py recv PORT OUT    log "monotonic_time source_address seq" per
        datagram to OUT (line-buffered); both families
"""
import socket
import sys
import time


def send(dst, port, interval_ms=20.0, seconds=600.0, sport=40000, count=1):
    family = socket.AF_INET6 if ':' in dst else socket.AF_INET
    socks = []
    for i in range(int(count)):
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.bind(('::' if family == socket.AF_INET6 else '0.0.0.0', int(sport) + i))
        socks.append(s)
    end = time.monotonic() + seconds
    seq = 0
    while time.monotonic() < end:
        for i, s in enumerate(socks):
            try:
                s.sendto((f'{seq}\n' if count == 1 else f'{seq} {i}\n').encode(), (dst, port))
            except OSError:
                pass    # no route yet, ICMP errors: keep the stream going
        seq += 1
        time.sleep(interval_ms / 1000)


def recv(port, out):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(('::', port))
    with open(out, 'w', buffering=1) as f:
        while True:
            data, addr = s.recvfrom(2048)
            src = addr[0].removeprefix('::ffff:')
            f.write(f'{time.monotonic():.3f} {src} {data.decode().strip()}\n')


if __name__ == '__main__':
    if sys.argv[1] == 'send':
        send(sys.argv[2], int(sys.argv[3]), *(float(a) for a in sys.argv[4:8]))
    else:
        recv(int(sys.argv[2]), sys.argv[3])
