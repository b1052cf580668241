#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""TCP SYNs for the tcpmss selftest: watch them, make them, craft them.

  syncraft.py listen PORT
        accept TCP connections on PORT (both families) and close them
  syncraft.py connect HOST PORT [TIMEOUT]
        one TCP connection to HOST:PORT; exit 0 once it is established
  syncraft.py capture IFACE OUT [--dport P] [--sport P] [--src ADDR]
                      [--flags S|SA|any] [--count N] [--timeout S]
        AF_PACKET capture of received (not outgoing) TCP segments on IFACE,
        IPv4 and IPv6; one JSON object a line in OUT: family src dst sport
        dport seq flags mss csum (ok|bad|partial) tcp (segment, hex); OUT.ready
        appears once the socket is bound; ends after N segments (default 1)
        or S seconds (default 60)
  syncraft.py mss OUT
        the MSS option of the first segment in OUT: "1380", "none" (no MSS
        option), "nothing" (no segment), "badcsum:1380" (checksum wrong)
  syncraft.py craft SRC DST DPORT OUT
        send the crafted SYNs (raw IPv4, checksums computed here) from SRC to
        DST:DPORT; describe each in OUT (name sport seq tcp expect)
  syncraft.py segment SRC SPORT DST DPORT SEQ ACK
        send one IPv4 ACK|PSH segment with a few bytes of data (raw,
        checksums computed here), e.g. out of a connection's window
  syncraft.py verify SENT CAPTURED MSS
        per crafted SYN: "NAME ok|fail DETAIL"; malformed ones must arrive
        byte-identical (TCP header, options, payload), the valid one with
        its MSS set to MSS, a valid checksum and nothing else changed
  syncraft.py espmtu ESP ENCAP OUTER INNER ROUTE_MTU
        "INNER_MTU MSS" that fit a tunnel-mode ESP SA with strongSwan
        proposal ESP (aes128gcm16, aes256-sha512, ...), ENCAP yes|no (UDP,
        NAT-T), outer and inner IP version 4|6, as xfrm_state_mtu() does
"""
import json
import os
import random
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_CSUMNOTREADY = 0x8


def csum_fold(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack(f'!{len(data) // 2}H', data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def pseudo(family, src, dst, length):
    if family == 4:
        return src + dst + struct.pack('!BBH', 0, socket.IPPROTO_TCP, length)
    return src + dst + struct.pack('!IxxxB', length, socket.IPPROTO_TCP)


def tcp_csum(family, src, dst, seg):
    """Checksum field for SEG (its own checksum field taken as zero)."""
    seg = seg[:16] + b'\0\0' + seg[18:]
    return (~csum_fold(pseudo(family, src, dst, len(seg)) + seg)) & 0xffff


def csum_valid(family, src, dst, seg):
    return csum_fold(pseudo(family, src, dst, len(seg)) + seg) == 0xffff


def parse_options(seg):
    """MSS of a well-formed option list inside doff, None if there is none,
    'malformed' if the list is malformed (as tcp_parse_options sees it)."""
    if len(seg) < 20:
        return 'malformed'
    doff = (seg[12] >> 4) * 4
    if doff < 20 or doff > len(seg):
        return 'malformed'
    opts = seg[20:doff]
    i = 0
    mss = None
    while i < len(opts):
        kind = opts[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(opts):
            return 'malformed'
        olen = opts[i + 1]
        if olen < 2 or i + olen > len(opts):
            return 'malformed'
        if kind == 2 and olen == 4 and mss is None:
            mss = struct.unpack('!H', opts[i + 2:i + 4])[0]
        i += olen
    return mss


def flags_str(f):
    return ''.join(c for c, bit in (('F', 1), ('S', 2), ('R', 4), ('P', 8), ('A', 16))
                   if f & bit)


def capture(iface, out, dport=None, sport=None, src=None, flags='S', count=1,
            timeout=60.0):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((iface, 0))
    end = time.monotonic() + timeout
    got = 0
    with open(out, 'w', buffering=1) as f:
        open(out + '.ready', 'w').close()
        while got < count:
            left = end - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                frame, anc, _, addr = s.recvmsg(65536, socket.CMSG_SPACE(32))
            except socket.timeout:
                break
            if addr[2] == PACKET_OUTGOING or len(frame) < 14:
                continue
            status = 0
            for level, ctype, data in anc:
                if level == SOL_PACKET and ctype == PACKET_AUXDATA and len(data) >= 4:
                    status = struct.unpack('I', data[:4])[0]
            etype = struct.unpack('!H', frame[12:14])[0]
            pkt = frame[14:]
            if etype == 0x0800 and len(pkt) >= 20:
                ihl = (pkt[0] & 0xf) * 4
                tot = struct.unpack('!H', pkt[2:4])[0]
                frag = struct.unpack('!H', pkt[6:8])[0] & 0x3fff
                if pkt[9] != socket.IPPROTO_TCP or frag or tot > len(pkt):
                    continue
                fam, saddr, daddr, seg = 4, pkt[12:16], pkt[16:20], pkt[ihl:tot]
                af = socket.AF_INET
            elif etype == 0x86dd and len(pkt) >= 40:
                plen = struct.unpack('!H', pkt[4:6])[0]
                if pkt[6] != socket.IPPROTO_TCP or 40 + plen > len(pkt):
                    continue
                fam, saddr, daddr, seg = 6, pkt[8:24], pkt[24:40], pkt[40:40 + plen]
                af = socket.AF_INET6
            else:
                continue
            if len(seg) < 20:
                continue
            sp, dp, seq = struct.unpack('!HHI', seg[:8])
            fl = flags_str(seg[13])
            if dport is not None and dp != dport:
                continue
            if sport is not None and sp != sport:
                continue
            if src is not None and socket.inet_ntop(af, saddr) != src:
                continue
            if flags != 'any' and fl.replace('P', '') != flags:
                continue
            if status & TP_STATUS_CSUMNOTREADY:
                cs = 'partial'
            else:
                cs = 'ok' if csum_valid(fam, saddr, daddr, seg) else 'bad'
            mss = parse_options(seg)
            f.write(json.dumps({
                'family': fam, 'src': socket.inet_ntop(af, saddr),
                'dst': socket.inet_ntop(af, daddr), 'sport': sp, 'dport': dp,
                'seq': seq, 'flags': fl, 'mss': mss, 'csum': cs,
                'tcp': seg.hex()}) + '\n')
            got += 1
    return 0 if got >= count else 1


def read_capture(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except OSError:
        return []


def show_mss(path):
    segs = read_capture(path)
    if not segs:
        print('nothing')
        return 1
    p = segs[0]
    mss = 'none' if p['mss'] is None else str(p['mss'])
    print(mss if p['csum'] != 'bad' else f'badcsum:{mss}')
    return 0


# The crafted SYNs. An option parser that reads past the option length, past
# doff or past the segment, or that treats a zero length as one, would find
# "02 04 05 b4" (MSS 1460) or a value above 1380 in each malformed one and
# rewrite it.
CRAFTED = [
    # name, data offset (32-bit words), options, payload, expect
    ('truncated MSS option (len 4, 3 bytes left)', 6,
     '01020405', 'b4000000', 'same'),
    ('MSS option of len 3', 7,
     '0203060101010100', '', 'same'),
    ('an option of len 0 before an MSS option', 7,
     '08000204 05b40100', '', 'same'),
    ('an option running past doff', 7,
     '0101080a00000000', '0000000002 0405b4', 'same'),
    ('NOP then MSS 1460 at an odd offset', 7,
     '01020405b4010100', '', 'mss'),
    ('no MSS option', 7,
     '0402010101010100', '', 'same'),
    ('doff pointing past the segment end', 15,
     '020405b401010100', '', 'same'),
]


def craft(src, dst, dport, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    saddr, daddr = socket.inet_aton(src), socket.inet_aton(dst)
    rnd = random.Random()
    with open(out, 'w') as f:
        for n, (name, doff, opts, payload, expect) in enumerate(CRAFTED):
            sport = 40001 + n
            seq = rnd.getrandbits(32)
            body = bytes.fromhex(opts.replace(' ', '')) + bytes.fromhex(payload.replace(' ', ''))
            seg = struct.pack('!HHIIBBHHH', sport, dport, seq, 0, doff << 4, 0x02,
                              64240, 0, 0) + body
            c = tcp_csum(4, saddr, daddr, seg)
            seg = seg[:16] + struct.pack('!H', c) + seg[18:]
            ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(seg), rnd.getrandbits(16),
                             0x4000, 64, socket.IPPROTO_TCP, 0, saddr, daddr)
            ip = ip[:10] + struct.pack('!H', (~csum_fold(ip)) & 0xffff) + ip[12:]
            s.sendto(ip + seg, (dst, 0))
            f.write(json.dumps({'name': name, 'sport': sport, 'seq': seq,
                                'tcp': seg.hex(), 'expect': expect}) + '\n')
    return 0


def segment(src, sport, dst, dport, seq, ack):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    saddr, daddr = socket.inet_aton(src), socket.inet_aton(dst)
    seg = struct.pack('!HHIIBBHHH', sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                      5 << 4, 0x18, 64240, 0, 0) + b'syncraft\n'
    seg = seg[:16] + struct.pack('!H', tcp_csum(4, saddr, daddr, seg)) + seg[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(seg), random.getrandbits(16),
                     0x4000, 64, socket.IPPROTO_TCP, 0, saddr, daddr)
    ip = ip[:10] + struct.pack('!H', (~csum_fold(ip)) & 0xffff) + ip[12:]
    s.sendto(ip + seg, (dst, 0))
    return 0


def verify(sent_path, cap_path, want_mss):
    caps = read_capture(cap_path)
    rc = 0
    for p in read_capture(sent_path):
        sent = bytes.fromhex(p['tcp'])
        got = [c for c in caps if c['sport'] == p['sport'] and c['seq'] == p['seq']]
        if not got:
            print(f"{p['name']}\tfail\tnot received at the server")
            rc = 1
            continue
        rx = bytes.fromhex(got[0]['tcp'])
        if p['expect'] == 'same':
            if rx == sent:
                print(f"{p['name']}\tok\tbyte-identical ({len(rx)} bytes)")
            else:
                diff = [i for i in range(max(len(rx), len(sent)))
                        if i >= len(rx) or i >= len(sent) or rx[i] != sent[i]]
                print(f"{p['name']}\tfail\tchanged: sent {sent.hex()} got {rx.hex()} "
                      f"(bytes {diff[:8]} differ)")
                rc = 1
            continue
        # The valid one: the MSS value rewritten, the checksum valid, the rest
        # as sent.
        pos = 20 + 1 + 2    # NOP, kind, len
        want = sent[:16] + rx[16:18] + sent[18:pos] + struct.pack('!H', want_mss) + sent[pos + 2:]
        mss = struct.unpack('!H', rx[pos:pos + 2])[0] if len(rx) >= pos + 2 else None
        if got[0]['csum'] != 'ok':
            print(f"{p['name']}\tfail\tchecksum {got[0]['csum']} (MSS {mss}): {rx.hex()}")
            rc = 1
        elif rx != want:
            print(f"{p['name']}\tfail\tgot {rx.hex()}, want {want.hex()} (checksum aside)")
            rc = 1
        else:
            print(f"{p['name']}\tok\tMSS {struct.unpack('!H', sent[pos:pos + 2])[0]} -> {mss}, "
                  f"checksum {sent[16:18].hex()} -> {rx[16:18].hex()} valid")
    return rc


def esp_params(esp):
    """(iv, icv, block) of a strongSwan ESP proposal, as the kernel's AEAD
    has them: ivsize, authsize, ALIGN(blocksize, 4)."""
    algs = esp.lower().split('-')
    enc = algs[0]
    if 'gcm' in enc:
        icv = int(enc.split('gcm')[1] or 16)
        return 8, icv, 4
    if enc.startswith('aes'):
        integ = {'sha1': 12, 'sha256': 16, 'sha384': 24, 'sha512': 32}
        icv = next((integ[a] for a in algs[1:] if a in integ), None)
        if icv is None:
            raise ValueError(f'no integrity algorithm in {esp}')
        return 16, icv, 16
    raise ValueError(f'unknown ESP proposal {esp}')


def espmtu(esp, encap, outer, inner, route_mtu):
    iv, icv, blk = esp_params(esp)
    hdr = (20 if outer == 4 else 40) + (8 if encap else 0) + 8 + iv
    inner_mtu = ((route_mtu - hdr - icv) & ~(blk - 1)) - 2
    return inner_mtu, inner_mtu - (20 if inner == 4 else 40) - 20


def listen(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(('::', port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        c.close()


def connect(host, port, timeout=30.0):
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        sys.stderr.write(f'syncraft: connect {host} {port}: {e}\n')
        return 1
    return 0


def main():
    a = sys.argv[1:]
    if not a:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = a[0]
    if cmd == 'listen':
        listen(int(a[1]))
    elif cmd == 'connect':
        return connect(a[1], int(a[2]), float(a[3]) if len(a) > 3 else 30.0)
    elif cmd == 'capture':
        kw = {}
        i = 3
        while i < len(a):
            k, v = a[i], a[i + 1]
            i += 2
            if k in ('--dport', '--sport', '--count'):
                kw[k[2:]] = int(v)
            elif k == '--timeout':
                kw['timeout'] = float(v)
            elif k in ('--src', '--flags'):
                kw[k[2:]] = v
            else:
                print(f'syncraft: unknown option {k}', file=sys.stderr)
                return 2
        return capture(a[1], a[2], **kw)
    elif cmd == 'mss':
        return show_mss(a[1])
    elif cmd == 'craft':
        return craft(a[1], a[2], int(a[3]), a[4])
    elif cmd == 'segment':
        return segment(a[1], int(a[2]), a[3], int(a[4]), int(a[5], 0), int(a[6], 0))
    elif cmd == 'verify':
        return verify(a[1], a[2], int(a[3]))
    elif cmd == 'espmtu':
        inner_mtu, mss = espmtu(a[1], a[2] == 'yes', int(a[3]), int(a[4]), int(a[5]))
        print(inner_mtu, mss)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
