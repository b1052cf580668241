#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Send malformed and hostile generic netlink requests to the vpnflow family
and check that each is refused with an extended-ack message (and, where the
kernel can point at it, the offending attribute), that the options are
unchanged afterwards, and that the family still answers.

  nlhostile.py [FUZZ_ITERATIONS]

Prints KTAP; exit 0 when every case passed.
"""
import os
import random
import socket
import struct
import sys

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200
NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS = 1, 2
SOL_NETLINK, NETLINK_EXT_ACK, NETLINK_CAP_ACK = 270, 11, 10
NLA_F_NESTED = 0x8000

# From include/uapi/linux/vpnflow.h (checked against it by the test script).
CMD_OPTIONS_GET, CMD_OPTIONS_SET, CMD_COUNTERS_GET = 1, 2, 3
CMD_TUNNEL_GET, CMD_FLOW_GET, CMD_COUNTERS_CLEAR = 4, 5, 6
A_OPTIONS = 1
A_OPT_PRESERVE, A_OPT_RECLASSIFY, A_OPT_TCPMSS, A_OPT_TCPMSS_MIN = 1, 2, 3, 4
A_OPT_TCPMSS_AUTO, A_OPT_PRESERVE_TIMEOUT = 5, 6
A_FILTER_FLOW_STATE = 7


def nla(t, payload):
    hdr = struct.pack('=HH', 4 + len(payload), t)
    return hdr + payload + b'\0' * ((4 - len(payload) % 4) % 4)


def nest(t, *attrs):
    return nla(t | NLA_F_NESTED, b''.join(attrs))


class Genl:
    def __init__(self):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        self.s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        self.s.bind((0, 0))
        self.seq = 1
        self.fam = self.resolve('vpnflow')

    def send(self, ftype, cmd, payload, flags=NLM_F_REQUEST | NLM_F_ACK, raw_len=None):
        self.seq += 1
        body = struct.pack('=BBH', cmd, 1, 0) + payload
        ln = 16 + len(body) if raw_len is None else raw_len
        self.s.send(struct.pack('=IHHII', ln, ftype, flags, self.seq, 0) + body)
        return self.seq

    def recv_all(self, seq):
        """Messages answering seq up to the ack or DONE: (replies, error, extack)."""
        replies = []
        while True:
            data = self.s.recv(1 << 20)
            off = 0
            while off + 16 <= len(data):
                ln, t, fl, sq, _ = struct.unpack_from('=IHHII', data, off)
                if ln < 16:
                    return replies, -1, {}
                msg = data[off:off + ln]
                off += (ln + 3) & ~3
                if sq != seq:
                    continue
                if t in (NLMSG_ERROR, NLMSG_DONE):
                    # A dump's error (one its first pass returned) comes
                    # in its DONE: the errno, then the extack TLVs.
                    err = struct.unpack_from('=i', msg, 16)[0] if ln >= 20 else 0
                    ext = {}
                    if fl & NLM_F_ACK_TLVS:
                        if t == NLMSG_DONE:
                            p = 16 + 4
                        elif fl & NLM_F_CAPPED:
                            # CAP_ACK: the request is capped to its header.
                            p = 16 + 4 + 16
                        else:
                            p = 16 + 4 + struct.unpack_from('=I', msg, 20)[0]
                        while p + 4 <= len(msg):
                            al, at = struct.unpack_from('=HH', msg, p)
                            if al < 4:
                                break
                            ext[at] = msg[p + 4:p + al]
                            p += (al + 3) & ~3
                    return replies, err, ext
                replies.append(msg)

    def request(self, cmd, payload=b'', **kw):
        return self.recv_all(self.send(self.fam, cmd, payload, **kw))

    def resolve(self, name):
        seq = self.send(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, nla(CTRL_ATTR_FAMILY_NAME, name.encode() + b'\0'))
        replies, err, _ = self.recv_all(seq)
        if err or not replies:
            raise SystemExit(f'# family {name} not found ({err})')
        msg = replies[0]
        p = 20
        while p + 4 <= len(msg):
            al, at = struct.unpack_from('=HH', msg, p)
            if at == CTRL_ATTR_FAMILY_ID:
                return struct.unpack_from('=H', msg, p + 4)[0]
            p += (al + 3) & ~3
        raise SystemExit('# no family id')

    def options(self):
        replies, err, _ = self.request(CMD_OPTIONS_GET)
        if err or not replies:
            return None
        return replies[0][20:]


n = 0
failed = 0


def result(ok, desc):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print(f'{"ok" if ok else "not ok"} {n} {desc}', flush=True)


def main():
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    g = Genl()
    before = g.options()
    u8 = lambda v: struct.pack('=B', v)
    u32 = lambda v: struct.pack('=I', v)

    # (description, command, payload, expected errno, extack message substring, bad attr expected)
    cases = [
        ('u8 option sent as u32', CMD_OPTIONS_SET, nest(A_OPTIONS, nla(A_OPT_PRESERVE, u32(1))), 22, 'length', True),
        ('u32 option sent as 2 bytes', CMD_OPTIONS_SET, nest(A_OPTIONS, nla(A_OPT_TCPMSS, b'\x10\x00')), 22, 'length', True),
        ('flag value 2 for a 0/1 option', CMD_OPTIONS_SET, nest(A_OPTIONS, nla(A_OPT_PRESERVE, u8(2))), 34, 'range', True),
        ('tcpmss 47 (between 0 and 48)', CMD_OPTIONS_SET, nest(A_OPTIONS, nla(A_OPT_TCPMSS, u32(47))), 34, 'tcpmss must be 0', True),
        ('tcpmss 65536', CMD_OPTIONS_SET, nest(A_OPTIONS, nla(A_OPT_TCPMSS, u32(65536))), 34, 'range', True),
        ('preserve timeout 0', CMD_OPTIONS_SET, nest(A_OPTIONS, nla(A_OPT_PRESERVE_TIMEOUT, u32(0))), 34, 'range', True),
        ('minimum above tcpmss', CMD_OPTIONS_SET, nest(A_OPTIONS, nla(A_OPT_TCPMSS, u32(1000)),
                                                       nla(A_OPT_TCPMSS_MIN, u32(1200))), 34, 'cannot exceed', True),
        ('a valid option next to a bad one (atomic)', CMD_OPTIONS_SET,
         nest(A_OPTIONS, nla(A_OPT_PRESERVE, u8(1)), nla(A_OPT_TCPMSS, u32(5))), 34, 'tcpmss', True),
        ('unknown attribute inside the nest', CMD_OPTIONS_SET, nest(A_OPTIONS, nla(100, u32(1))), 22, 'nknown', True),
        ('unknown top-level attribute', CMD_OPTIONS_SET, nla(60, u32(1)), 22, 'nknown', True),
        ('options not nested', CMD_OPTIONS_SET, nla(A_OPTIONS, u32(1)), 22, '', True),
        ('options missing', CMD_OPTIONS_SET, b'', 22, 'no options given', False),
        ('attributes on a get that takes none', CMD_OPTIONS_GET, nla(A_OPTIONS, b''), 22, '', True),
        # Attribute types past the first: a family-wide maxattr once made
        # the core validate them against its one-entry reject-all policy.
        ('attribute type 9 on a get that takes none', CMD_OPTIONS_GET, nla(9, u32(1)), 22, '', True),
        ('attributes on the counters get', CMD_COUNTERS_GET, nla(3, u32(70000)), 22, '', True),
        ('attributes on counters clear', CMD_COUNTERS_CLEAR, nla(5, u8(1)), 22, '', True),
        ('attributes on the tunnel dump', CMD_TUNNEL_GET, nla(2, u32(1)), 22, '', True),
        ('flow dump filter out of range', CMD_FLOW_GET, nla(A_FILTER_FLOW_STATE, u8(7)), 34, 'range', True),
        ('attribute length past the message end', CMD_OPTIONS_SET, struct.pack('=HH', 200, A_OPTIONS | NLA_F_NESTED), 22, '', False),
    ]
    for desc, cmd, payload, want, msg, bad_attr in cases:
        flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_DUMP if cmd in (CMD_TUNNEL_GET, CMD_FLOW_GET) else 0)
        _, err, ext = g.recv_all(g.send(g.fam, cmd, payload, flags=flags))
        text = ext.get(NLMSGERR_ATTR_MSG, b'').rstrip(b'\0').decode(errors='replace')
        ok = err == -want and (msg == '' or msg in text) and (not bad_attr or NLMSGERR_ATTR_OFFS in ext or text)
        print(f'# {desc}: errno {-err}, extack "{text}"{", bad attr" if NLMSGERR_ATTR_OFFS in ext else ""}')
        result(ok and g.options() == before, f'{desc}: refused with extack, options unchanged')

    _, err, _ = g.request(99)
    result(err == -95, f'unknown command refused (errno {-err})')

    # A message whose header claims more than was sent.
    g.send(g.fam, CMD_OPTIONS_GET, b'', raw_len=4096)
    try:
        g.s.settimeout(2)
        _, err, _ = g.recv_all(g.seq)
    except socket.timeout:
        err = 'timeout'
    finally:
        g.s.settimeout(None)
    result(g.options() == before, f'truncated message ({err}) leaves the family answering')

    # Random and mutated requests against every command.
    rnd = random.Random(int(os.environ.get('FUZZ_SEED', '1')))
    valid = nest(A_OPTIONS, nla(A_OPT_PRESERVE_TIMEOUT, u32(3600)))
    refused = changed = 0
    for i in range(iterations):
        cmd = rnd.choice([CMD_OPTIONS_SET, CMD_OPTIONS_GET, CMD_COUNTERS_GET, CMD_TUNNEL_GET, CMD_FLOW_GET,
                          rnd.randrange(0, 256)])
        if rnd.random() < 0.5:
            payload = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 64)))
        else:
            b = bytearray(valid)
            for _ in range(rnd.randrange(1, 4)):
                b[rnd.randrange(len(b))] = rnd.randrange(256)
            payload = bytes(b)
        flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_DUMP if cmd in (CMD_TUNNEL_GET, CMD_FLOW_GET) else 0)
        prev = g.options()
        _, err, ext = g.recv_all(g.send(g.fam, cmd, payload, flags=flags))
        if err:
            refused += 1
            if g.options() != prev:
                changed += 1
    result(changed == 0 and g.options() is not None,
           f'{iterations} random/mutated requests: {refused} refused, {changed} of those changed state')
    # Mutations may have formed valid requests: back to the options we found.
    g.request(CMD_OPTIONS_SET, before[4:] and nla(A_OPTIONS | NLA_F_NESTED, before[4:]))
    result(g.options() == before, 'options restored after fuzzing')
    print(f'# Totals: pass:{n - failed} fail:{failed} xfail:0 xpass:0 skip:0 error:0')
    return 1 if failed else 0


if __name__ == '__main__':
    print('KTAP version 1')
    print('1..23')
    sys.exit(main())
