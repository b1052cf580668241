#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""vpnflow benchmarks: read ftrace dumps and results, print the tables.

  analyze.py event TRACE KIND TUNNEL N TABLE REP COUNT
        one JSON line for a tunnel event from an ftrace dump (trace_clock
        mono) holding the marker "BENCH KIND TUNNEL REP" and the vf/ kprobe
        events: the kernel's own timestamps from the first xfrm notification
        (SA deleted / added) to the end of the work (flows preserved / torn
        down: vpnflow_flows_tunnel_down returns; re-install: reclassify-vpn
        returns).
  analyze.py dump TRACE PROBE OUT.json T0 T1 AB KO FLOWS REP
        one JSON line for a flow dump (part 6): its callbacks' durations
        from the vf kprobes, the echoes through T0 while it ran
  analyze.py report RESULTS.jsonl TABLE.md
        the tables (text on stdout, markdown into TABLE.md)
  analyze.py check RESULTS.jsonl
        KTAP: did every part of the run measure what it says it measured
        (counts, not speeds: every flow preserved, resumed, found, torn
        down; every SYN clamped; the re-installs after a tunnel's first
        walked no table; the memory freed at rmmod). Exit 1 on a failure.
        For the smoke run in `make check`; no timing is judged.
"""
import json
import os
import re
import statistics
import sys

LINE = re.compile(r'^\s*(?P<comm>.+?)-(?P<pid>\d+)\s+\[(?P<cpu>\d+)\]\s+\S+\s+'
                  r'(?P<ts>\d+\.\d+):\s+(?P<ev>[\w]+):\s*(?P<rest>.*)$')


def parse_trace(path):
    out = []
    with open(path) as f:
        for line in f:
            m = LINE.match(line)
            if m:
                out.append((int(round(float(m['ts']) * 1e9)), m['ev'], m['rest'].strip(),
                            int(m['pid'])))
    return out


def pairs(evs, start, end):
    """(start_ns, end_ns) pairs of entry/return kprobe events, matched per
    task (two works of the module can run the same function at once)."""
    res, t = [], {}
    for e in evs:
        ts, ev, pid = e[0], e[1], e[3]
        if ev == start:
            t[pid] = ts
        elif ev == end and pid in t:
            res.append((t.pop(pid), ts))
    return sorted(res)


def cmd_event(a):
    print(json.dumps(event_record(*a)))


def event_record(path, kind, tunnel, n, table, rep, count, walks='', examined=''):
    evs = parse_trace(path)
    marker = f'BENCH {kind} {tunnel} {rep}'
    i0 = next((i for i, e in enumerate(evs) if e[1] == 'tracing_mark_write' and
               e[2].startswith(marker)), None)
    rec = {'part': 'event', 'kind': kind, 'tunnel': int(tunnel), 'n': int(n),
           'table': int(table), 'rep': int(rep), 'count': int(count)}
    # reclassify-vpn's counters across a re-install (modules that have them)
    if walks != '':
        rec['walks'] = int(walks)
    if examined != '':
        rec['examined'] = int(examined)
    if i0 is None:
        rec['error'] = 'marker not in trace'
        return rec
    evs = evs[i0:]
    t_mark = evs[0][0]
    notes = [e[0] for e in evs if e[1] == 'notify']
    if not notes:
        rec['error'] = 'no xfrm notification'
        return rec
    t0 = notes[0]
    if kind in ('down', 'teardown'):
        segs = pairs(evs, 'down', 'down_end')
        if not segs:
            rec['error'] = 'no tunnel_down'
            return rec
        # The tunnel is down when its last SA goes: time from that deletion.
        t0 = max((t for t in notes if t <= segs[0][0]), default=t0)
        rec['first_notify_ms'] = (segs[-1][1] - notes[0]) / 1e6
        t1 = segs[-1][1]
        rec['walk_ms'] = sum(b - a for a, b in segs) / 1e6
    else:
        segs = pairs(evs, 'recl', 'recl_end')
        if not segs:
            rec['error'] = 'no reclassify'
            return rec
        first = min(segs, key=lambda p: p[1])
        t1 = first[1]
        rec['walk_ms'] = (first[1] - first[0]) / 1e6
        # walks of the same tunnel running at the same time (event and GC works)
        rec['overlapping_walks'] = sum(1 for a, b in segs if a < first[1] and b > first[0])
        rec['reclassify_starts'] = sum(1 for e in evs if e[1] == 'recl')
        segs = [first]
    recon = [p for p in pairs(evs, 'recon', 'recon_end') if p[0] >= t0]
    rec['ms'] = (t1 - t0) / 1e6
    rec['queue_ms'] = (recon[0][0] - t0) / 1e6 if recon else None
    # reconcile start -> the work proper (SA table walk, tunnel transitions)
    rec['pre_ms'] = (segs[0][0] - recon[0][0]) / 1e6 if recon and segs[0][0] >= recon[0][0] else None
    rec['cmd_ms'] = (t0 - t_mark) / 1e6
    rec['notifies'] = len(notes)
    rec['t0'] = t0
    rec['t1'] = t1
    gcs = pairs(evs, 'gc', 'gc_end')
    rec['gc_max_ms'] = max((b - a for a, b in gcs), default=0) / 1e6
    rec['gc_windows'] = gcs
    # one vn->tlock hold of the GC (vpnflow_flows_gc_batch, with the wait for the lock)
    holds = pairs(evs, 'gch', 'gch_end')
    rec['gc_hold_max_ms'] = max((b - a for a, b in holds), default=0) / 1e6 if holds else None
    return rec


GRAPH = re.compile(r'^\s*(?P<ts>\d+\.\d+)\s*\|\s*(?P<cpu>\d+)\)\s*(?:[!#*@+$&]\s*)?'
                   r'(?P<dur>\d+\.\d+) us\s*\|\s*vpnflow_flow_track')


def cmd_graph(a):
    """function_graph dump of vpnflow_flow_track during a touch pass."""
    path, kind, tunnel, n, table, rep = a
    calls = []
    with open(path) as f:
        for line in f:
            m = GRAPH.match(line)
            if m:
                calls.append((float(m['ts']), float(m['dur'])))
    rec = {'part': 'graph', 'kind': kind, 'tunnel': int(tunnel), 'n': int(n),
           'table': int(table), 'rep': int(rep), 'calls': len(calls)}
    if calls:
        d = sorted(c[1] for c in calls)
        rec['sum_ms'] = sum(d) / 1e3
        rec['p50_us'] = d[len(d) // 2]
        rec['p99_us'] = d[min(len(d) - 1, int(len(d) * 0.99))]
        rec['max_us'] = d[-1]
        rec['span_ms'] = (calls[-1][0] - calls[0][0]) * 1e3 + calls[-1][1] / 1e3
    print(json.dumps(rec))


def cmd_dump(a):
    """A flow dump (part 6): each call of the dump callback from the ftrace
    dump, the echoes through T0 sent while the dump ran, the flows listed."""
    trace, probe, out, t0, t1, ab, ko, flows, rep = a
    t0, t1 = int(t0), int(t1)
    calls = sorted((b - x) / 1e6 for x, b in pairs(parse_trace(trace), 'dump', 'dump_end'))
    try:
        with open(out) as f:
            listed = len(json.load(f))
    except (OSError, ValueError):
        listed = -1
    during = [(s, r) for s, r in load_probe(probe) if t0 <= s <= t1]
    rtts = sorted(r / 1e6 for s, r in during if r >= 0)
    rec = {'part': 'dump', 'ab': ab, 'ko': ko, 'flows': int(flows), 'rep': int(rep),
           'listed': listed, 'ms': (t1 - t0) / 1e6, 'calls': len(calls),
           'call_max_ms': calls[-1] if calls else None,
           'call_p50_ms': calls[len(calls) // 2] if calls else None,
           'calls_ms': sum(calls), 'echoes': len(during),
           'lost': sum(1 for s, r in during if r < 0),
           'rtt_p50_ms': pct(rtts, 50) if rtts else None,
           'rtt_p99_ms': pct(rtts, 99) if rtts else None,
           'rtt_max_ms': rtts[-1] if rtts else None}
    print(json.dumps(rec))


def cmd_gc(a):
    """The module's flow GC passes in an ftrace dump."""
    path, flows, table = a
    evs = parse_trace(path)
    gcs = pairs(evs, 'gc', 'gc_end')
    d = [(b - x) / 1e6 for x, b in gcs]
    rec = {'part': 'gc', 'flows': int(flows), 'table': int(table),
           'passes': len(d), 'ms': d, 'windows': gcs}
    # one vn->tlock hold of the GC (vpnflow_flows_gc_batch, with the wait for
    # the lock); absent with a module that holds it for the whole pass
    h = sorted((b - x) / 1e6 for x, b in pairs(evs, 'gch', 'gch_end'))
    if h:
        rec.update(holds=len(h), hold_p50_ms=h[len(h) // 2],
                   hold_p99_ms=h[min(len(h) - 1, int(len(h) * 0.99))], hold_max_ms=h[-1])
    print(json.dumps(rec))


# --- report ---
def kinds(ups):
    """The re-installs' reclassify passes by kind: 'walk 2,662 / recorded 0.3, 0.2'."""
    if not any('walks' in r for r in ups):
        return '-'
    w = [fmt(r['ms']) for r in ups if r.get('walks')]
    c = [fmt(r['ms']) for r in ups if r.get('walks') == 0]
    return f"walk {', '.join(w) or 'none'} / recorded {', '.join(c) or 'none'}"


def med(v):
    return statistics.median(v) if v else float('nan')


def pct(v, p):
    if not v:
        return float('nan')
    v = sorted(v)
    k = min(len(v) - 1, max(0, int(round(p / 100 * (len(v) - 1)))))
    return v[k]


def fmt(x, d=1):
    if x is None or x != x:
        return '-'
    if abs(x) >= 1000:
        return f'{x:,.0f}'
    return f'{x:.{d}f}'


def spread(v, d=2):
    if not v:
        return '-'
    return f'{fmt(min(v), d)}–{fmt(max(v), d)}'


class Out:
    def __init__(self):
        self.txt, self.md = [], []

    def h(self, s):
        self.txt += ['', s, '=' * len(s)]
        self.md += ['', f'### {s}', '']

    def p(self, s):
        self.txt.append(s)
        self.md.append(s)

    def table(self, head, rows):
        w = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
        self.txt.append('  '.join(str(h).ljust(w[i]) for i, h in enumerate(head)))
        self.txt.append('  '.join('-' * x for x in w))
        for r in rows:
            self.txt.append('  '.join(str(c).rjust(w[i]) if i else str(c).ljust(w[i])
                                      for i, c in enumerate(r)))
        self.md.append('| ' + ' | '.join(head) + ' |')
        self.md.append('|' + '|'.join('---' if i == 0 else '---:' for i in range(len(head))) + '|')
        for r in rows:
            self.md.append('| ' + ' | '.join(str(c) for c in r) + ' |')
        self.md.append('')


def human(n):
    if n >= 1000000 and n % 1000000 == 0:
        return f'{n // 1000000}M'
    if n >= 1000:
        return f'{n / 1000:.0f}k' if n % 1000 == 0 else f'{n / 1000:.0f}k'
    return str(n)


def load_probe(path):
    s = []
    try:
        with open(path) as f:
            for line in f:
                a, b = line.split()
                s.append((int(a), int(b)))
    except OSError:
        pass
    return s


def load_results(path):
    """results.jsonl's records. Paths recorded in the VM (/mnt/...) are in
    the results folder on the host."""
    R = [json.loads(l) for l in open(path) if l.strip()]
    base = os.path.dirname(os.path.abspath(path))

    def fix(p):
        if isinstance(p, str) and p.startswith('/mnt/') and not os.path.exists(p):
            return os.path.join(base, p[5:])
        return p
    for r in R:
        for k in ('file', 'slabinfo', 'meminfo', 'dso', 'sym', 'output'):
            if k in r:
                r[k] = fix(r[k])
    return R


def read_slabinfo(path):
    """/proc/slabinfo: {cache: (active objects, object size)}."""
    d = {}
    for line in open(path):
        if line.startswith(('slabinfo', '#')):
            continue
        f = line.split()
        d[f[0]] = (int(f[1]), int(f[3]))
    return d


def cmd_report(a):
    path, mdpath = a
    R = load_results(path)
    base = os.path.dirname(os.path.abspath(path))
    # Event records again from their ftrace dumps (the analysis may be newer).
    for i, r in enumerate(R):
        if r['part'] == 'event' and r['kind'] in ('down', 'up', 'teardown'):
            t = (os.path.join(base, 'work', 'trace-teardown.txt') if r['kind'] == 'teardown' else
                 os.path.join(base, 'work', f"trace-{r['kind']}-{r['tunnel']}-{r['table']}-{r['rep']}.txt"))
            if os.path.exists(t):
                # What the trace cannot tell (counters read around the event) stays.
                ab = {k: r[k] for k in ('ab', 'ko') if k in r}
                R[i] = event_record(t, r['kind'], r['tunnel'], r['n'], r['table'], r['rep'], r['count'],
                                    r.get('walks', ''), r.get('examined', ''))
                R[i].update(ab)
    cfg = next((r for r in R if r['part'] == 'config'), {})
    o = Out()
    o.p(f"vpnflow benchmarks, {cfg.get('date', '?')}: scale {cfg.get('scale')}, kernel "
        f"{cfg.get('kernel')}, {cfg.get('cpus')} vCPUs, qemu TCG (emulated CPU: absolute "
        f"numbers are not a real machine's; ratios measured in this one run are what counts).")
    if cfg.get('icount'):
        n = int(cfg['icount'])
        o.p(f"Instruction counting (qemu -icount shift={n}): the guest's clock advanced "
            f"{2 ** n} ns per instruction executed, so kernel durations below count "
            f"instructions (1 ms = {1e6 / 2 ** n:,.0f} instructions), whatever else the host "
            f"ran. Throughput is then per guest instruction: a loaded/not loaded ratio "
            f"of 0.99 means the module added 1 % to the instructions each packet took "
            f"(timer-driven behaviour, such as TCP's, is not a real machine's).")
    cal = {r['where']: r for r in R if r['part'] == 'calib' and 'cpu_ns' in r}
    slow = None
    if 'host' in cal and 'guest' in cal and not cfg.get('icount'):
        h, g = cal['host'], cal['guest']
        o.p(f"TCG slowdown measured with flowgen calib (guest/host, same binary): "
            f"{g['cpu_ns'] / h['cpu_ns']:.0f}x for a cache-resident loop (instruction "
            f"emulation), {g['mem_ns'] / h['mem_ns']:.1f}x for a memory-bound one. Kernel code "
            f"lies somewhere in between, so no 'native' figure is derived from the times below.")

    # Part 1
    T = [r for r in R if r['part'] == 'tput']
    if T:
        o.h('1. Forwarding overhead through an ESP tunnel (module loaded, all features on / not loaded)')
        rows = []
        for test, unit in (('tcp', 'Mbit/s'), ('udp64', 'pkt/s')):
            by = {}
            for r in T:
                if r['test'] == test and r['value'] is not None and r['value'] > 0:
                    by.setdefault(r['pair'], {})[r['state']] = r['value']
            for st, sname in (('on', 'all features'), ('on_nomss', 'all but tcpmss'),
                              ('on_knobs', 'all + df-bit clear-df, fragmentation before-encryption, tcp-state-bypass')):
                ratios = [v[st] / v['off'] for v in by.values() if st in v and 'off' in v and v['off']]
                if not ratios:
                    continue
                off = [v['off'] for v in by.values() if 'off' in v]
                on = [v[st] for v in by.values() if st in v]
                rows.append([f'{"TCP bulk (iperf3)" if test == "tcp" else "UDP 64 B (iperf3 -u -l 64)"}',
                             sname, f'{fmt(med(off))} {unit}', f'{fmt(med(on))} {unit}',
                             f'{len(ratios)}', f'{med(ratios):.3f}',
                             spread(ratios, 3), f'{spread(off, 0)} / {spread(on, 0)}',
                             'met' if med(ratios) >= 0.99 else 'missed'])
        o.table(['test', 'module loaded with', 'not loaded (median)', 'loaded (median)', 'rounds',
                 'ratio (median)', 'ratio min–max', 'abs. min–max off / on', '≥ 0.99'], rows)

    P = [r for r in R if r['part'] == 'perf']
    for r in P:
        syms = []
        try:
            for line in open(r['sym']):
                f = line.split()
                if len(f) >= 3 and 'vpnflow' in line:
                    syms.append(f"{f[-1]} {f[0]}")
        except OSError:
            pass
        o.p(f"perf (cpu-clock, whole VM) during a loaded {r['test']} run: vpnflow_preserve "
            f"{r['module_pct']}% of samples" + (f", idle {r['idle_pct']}%" if 'idle_pct' in r else '') +
            (f" ({', '.join(syms[:4])})" if syms else '') + '.')

    # Part 3
    S = [r for r in R if r['part'] == 'syn']
    if S:
        o.h('3. Clamp cost: SYNs forwarded per second by gwa (new conntrack entry each)')
        rate = {}
        rounds = {}
        for r in S:
            v = r['forwarded'] / (r['ns'] / 1e9)
            rate.setdefault(r['variant'], []).append(v)
            rounds.setdefault(r['round'], {})[r['variant']] = (v, r)
        rows = []
        for var, name in (('none', 'no clamping (module loaded, tcpmss off)'),
                          ('module', 'vpnflow tcpmss 1380'),
                          ('iptables', 'iptables TCPMSS --set-mss 1380'),
                          ('nft', 'nft tcp option maxseg size set 1380')):
            if var not in rate:
                continue
            ratios = [d[var][0] / d['none'][0] for d in rounds.values() if var in d and 'none' in d]
            clamped = sum(d[var][1]['clamped'] for d in rounds.values() if var in d)
            fwd = sum(d[var][1]['forwarded'] for d in rounds.values() if var in d)
            rows.append([name, fmt(med(rate[var]), 0), spread(rate[var], 0),
                         f'{med(ratios):.3f}', spread(ratios, 3),
                         '-' if var == 'none' else f'{clamped}/{fwd}'])
        o.table(['variant', 'SYN/s (median)', 'min–max', 'ratio to none (median)',
                 'ratio min–max', 'clamped/forwarded'], rows)

    # Part 5 (A/B of two modules: its events are not part 2's)
    AB = [r for r in R if r['part'] == 'event' and 'ab' in r]
    if AB:
        o.h('5. A/B: the tunnel-down pass of two modules, loaded in turn (AB, BA, ...)')
        def runs(m, kind):
            return [r for r in AB if r['ab'] == m and r['kind'] == kind and 'error' not in r]
        rows = []
        for m in ('A', 'B'):
            d, u = runs(m, 'down'), runs(m, 'up')
            if not d:
                continue
            rows.append([m, d[0].get('ko', '?'), f"{med([r['n'] for r in d]):,.0f}",
                         str(len(d)), fmt(med([r['walk_ms'] for r in d]), 3),
                         spread([r['walk_ms'] for r in d], 3), fmt(med([r['ms'] for r in d]), 3),
                         fmt(med([r['walk_ms'] * 1e6 / r['n'] for r in d]), 0),
                         fmt(med([r['ms'] for r in u]), 3)])
        o.table(['module', 'file', 'flows', 'runs', 'tunnel_down ms (median)', 'min–max',
                 'SA deleted→all preserved ms',
                 'instructions per flow' if cfg.get('icount') == '0' else 'ns per flow',
                 'SA re-installed→reclassified ms'],
                rows)
        da = [r['walk_ms'] for r in runs('A', 'down')]
        db = [r['walk_ms'] for r in runs('B', 'down')]
        if da and db:
            o.p(f"tunnel_down B/A: {med(db) / med(da):.2f} (medians), "
                f"{min(db) / max(da):.2f}–{max(db) / min(da):.2f} (extremes). Each run tracks the "
                f"tunnel's flows afresh (one packet each) after loading the module.")
    # Part 6 (A/B of two modules on a flow dump)
    D = [r for r in R if r['part'] == 'dump']
    if D:
        o.h('6. A/B: a flow dump (vpnsysopt -j show conn) of two modules, loaded in turn (AB, BA, ...)')
        rows = []
        for m in ('A', 'B'):
            d = [r for r in D if r['ab'] == m]
            if not d:
                continue
            rows.append([m, d[0]['ko'], f"{med([r['flows'] for r in d]):,.0f}",
                         f"{med([r['listed'] for r in d]):,.0f}", str(len(d)),
                         fmt(med([r['ms'] for r in d]), 0), spread([r['ms'] for r in d], 0),
                         fmt(med([r['calls'] for r in d]), 0),
                         fmt(med([r['calls_ms'] for r in d]), 0),
                         fmt(med([r['call_max_ms'] for r in d if r['call_max_ms'] is not None]), 2),
                         fmt(med([r['rtt_p99_ms'] for r in d if r['rtt_p99_ms'] is not None]), 2),
                         fmt(max([r['rtt_max_ms'] for r in d if r['rtt_max_ms'] is not None] or [0]), 2),
                         str(sum(r['lost'] for r in d))])
        o.table(['module', 'file', 'flows', 'listed', 'runs', 'dump ms (median)', 'min–max',
                 'callback calls', 'in callbacks ms', 'longest call ms', 'T0 echo p99 ms',
                 'T0 echo max ms', 'echoes lost'], rows)
        da = [r for r in D if r['ab'] == 'A']
        db = [r for r in D if r['ab'] == 'B']
        if da and db:
            o.p(f"dump time B/A: {med([r['ms'] for r in db]) / med([r['ms'] for r in da]):.2f}; "
                f"longest callback B/A: "
                f"{med([r['call_max_ms'] for r in db]) / med([r['call_max_ms'] for r in da]):.1f} "
                f"(medians). A module that walks its flows under vn->tlock (spin_lock_bh) keeps "
                f"BHs off on its CPU for the whole of each callback; one that walks under RCU "
                f"keeps them on throughout.")
    R = [r for r in R if 'ab' not in r]

    # Part 2
    E = [r for r in R if r['part'] == 'event']
    if E:
        o.h('2. Tunnel events: kernel time from the SA deletion / re-install to all flows done')
        pts = []
        for r in E:
            key = (r['tunnel'], r['n'])
            if r['kind'] == 'down' and (key, r['table']) not in pts:
                pts.append((key, r['table']))

        def sel(kind, key, table):
            return [r for r in E if r['kind'] == kind and (r['tunnel'], r['n']) == key and
                    r['table'] == table and 'error' not in r]
        rows = []
        for key, table in pts:
            d = sel('down', key, table)
            u = sel('up', key, table)
            usl = sel('us_list', key, table)
            ush = sel('us_hold', key, table)
            tr = sel('touch_resume', key, table)
            ta = sel('touch_active', key, table)
            dms = [r['ms'] for r in d]
            ums = [r['ms'] for r in u]
            usl_ms = usl[0]['ns'] / 1e6 if usl else None
            ok = all(r['count'] == r['n'] for r in d)
            if ush:
                h = ush[0]
                hold = fmt(h['ns'] / 1e6, 0) + (f" (failed: {h.get('ct_error') or 'rc ' + str(h.get('rc'))})"
                                                 if h.get('rc') else f" ({h.get('entries')} updated)")
            else:
                hold = '-'
            rows.append([human(key[1]), human(table),
                         f'{fmt(med(dms))} ({spread(dms, 1)})' + ('' if ok else ' !'),
                         fmt(usl_ms, 0) + (f" ({usl[0]['lines']} found)" if usl else ''),
                         f'{usl_ms / med(dms):.0f}x' if usl_ms and dms else '-',
                         hold,
                         f'{fmt(med(ums))} ({spread(ums, 1)})',
                         f'{usl_ms / med(ums):.0f}x' if usl_ms and ums else '-',
                         kinds(u),
                         fmt(med([r['until_counted_ms'] for r in tr]), 0) + ' / ' +
                         fmt(med([r['until_counted_ms'] for r in ta]), 0)])
        o.table(['tunnel flows', 'gwa table', 'module: SA deleted→all preserved ms (min–max)',
                 'conntrack -L of the tunnel ms', '-L / module', 'conntrack -U --timeout ms',
                 'module: SA re-installed→reclassify done ms (min–max)', '-L / module',
                 're-install passes: walk of the table / recorded strays, ms each',
                 'touch all flows until counted, ms: preserved / active'], rows)
        o.p('down→preserved: first xfrm notification of the SA deletion to the return of '
            'vpnflow_flows_tunnel_down (all the tunnel\'s flows preserved; count checked with '
            'the flows-preserved counter). re-install→reclassified: first notification of the '
            'new SA to the return of reclassify-vpn\'s pass (a walk of gwa\'s table, or, '
            'once the tunnel is armed, a look-up of the strays recorded since). Both from ftrace '
            '(kprobes, trace_clock mono). conntrack(8) 1.4.7 runs in gwa with -s/-d and '
            '--mask-src/--mask-dst of the tunnel\'s /28 subnets; wall time of the command. '
            '-L (just finding the entries) is the floor of any conntrack(8) way; -U is what '
            'an updown script would run to hold them. The touch column polls the module\'s '
            'counters with vpnsysopt (coarse).')
        # breakdown
        rows = []
        for key, table in pts:
            for kind in ('down', 'up'):
                s = sel(kind, key, table)
                if not s:
                    continue
                rows.append([human(key[1]), human(table), kind,
                             fmt(med([r['queue_ms'] for r in s if r['queue_ms'] is not None]), 2),
                             fmt(med([r['pre_ms'] for r in s if r.get('pre_ms') is not None]), 2),
                             fmt(med([r['walk_ms'] for r in s]), 1),
                             '-' if kind == 'down' else fmt(med([r['walk_ms'] for r in s]) * 1e3 / table, 2),
                             fmt(med([r['ms'] for r in s]), 1),
                             fmt(max(r['gc_max_ms'] for r in s), 1),
                             fmt(max((r['gc_hold_max_ms'] for r in s
                                      if r.get('gc_hold_max_ms') is not None), default=None), 2),
                             '-' if kind == 'down' else
                             '/'.join(str(r.get('reclassify_starts', '?')) for r in s),
                             '-' if kind == 'down' else
                             '/'.join(f"{'walk' if r['walks'] else 'recorded'} {r.get('examined', '?')}"
                                      if 'walks' in r else '?' for r in s)])
        o.table(['tunnel flows', 'gwa table', 'event', 'notify→reconcile ms', 'reconcile→work ms', 'work ms (tunnel_down / reclassify pass)',
                 'pass µs per gwa entry', 'total ms', 'flow GC pass max ms (seen in the same trace)',
                 'GC lock hold max ms (same trace)',
                 'reclassify passes started per re-install',
                 'per re-install: pass kind, entries examined'], rows)
        G = [r for r in R if r['part'] == 'graph' and r['calls']]
        if G:
            rows = []
            for key, table in pts:
                for kind in ('resume', 'active'):
                    g = [r for r in G if (r['tunnel'], r['n']) == key and r['table'] == table and r['kind'] == kind]
                    if not g:
                        continue
                    rows.append([human(key[1]), human(table), kind, fmt(med([r['calls'] for r in g]), 0),
                                 fmt(med([r['sum_ms'] for r in g]), 1),
                                 fmt(med([r['p50_us'] for r in g]), 1), fmt(max(r['p99_us'] for r in g), 1),
                                 fmt(max(r['max_us'] for r in g), 0), fmt(med([r['span_ms'] for r in g]), 0)])
            o.p('')
            o.p('Resume: one packet per flow after the re-install (flowgen touch); the module\'s '
                'slow path vpnflow_flow_track() under function_graph (durations include the '
                'tracer\'s own overhead). Packets of active flows never call it.')
            o.table(['tunnel flows', 'gwa table', 'flows were', 'track calls', 'kernel ms in track',
                     'p50 µs/call', 'p99 µs', 'max µs', 'first→last resume ms'], rows)
        GC = [r for r in R if r['part'] == 'gc']
        for r in GC:
            line = (f"Flow GC (every 2 s, per namespace): {r['passes']} passes over {r['flows']} "
                    f"flows (table {human(r['table'])}): {', '.join(fmt(x, 1) for x in r['ms'])} ms")
            if r.get('holds'):
                line += (f"; vn->tlock held (BHs off) {r['holds']} times in 256-flow batches, "
                         f"p50 {fmt(r['hold_p50_ms'], 2)} / p99 {fmt(r['hold_p99_ms'], 2)} / "
                         f"max {fmt(r['hold_max_ms'], 2)} ms per hold (with the wait for the lock)")
            else:
                line += ", vn->tlock held with BHs off for the whole pass"
            o.p(line + '.')
        td = [r for r in E if r['kind'] == 'teardown' and 'error' not in r]
        usd = [r for r in E if r['kind'] == 'us_delete' and not r.get('rc')]
        if td:
            r = td[0]
            line = (f"Teardown (preserve-vpn-flows off), {human(r['n'])} flows, table {human(r['table'])}: "
                    f"module {fmt(r['ms'])} ms ({r['count']} torn down, each logged/evented)")
            if r['count'] != r['n']:
                line += (f"; only {r['count']} of the tunnel's {r['n']} flows were still there "
                         f"(conntrack had expired the others), so no ratio")
            if usd:
                line += (f"; conntrack -D of the tunnel's {usd[0]['entries']} entries (flows made "
                         f"again) in a {human(usd[0]['table'])} table: {fmt(usd[0]['ns'] / 1e6, 0)} ms")
                if r['count'] == r['n'] and r['ms']:
                    line += f" ({usd[0]['ns'] / 1e6 / r['ms']:.0f}x)"
            o.p(line + '.')

        # latency of the other tunnel
        probes = [r['file'] for r in R if r['part'] == 'probe']
        samples = []
        for p in probes:
            samples += load_probe(p)
        if samples:
            mod_w = [(r['t0'], r['t1']) for r in E if r['kind'] in ('down', 'up', 'teardown') and 't0' in r]
            us_w = [(r['t0'], r['t1']) for r in E if r['kind'].startswith('us_')]
            tw = [(r['t0'], r['t1']) for r in E if r['kind'].startswith('touch_') and 't0' in r]
            gw = [tuple(w) for r in R if r['part'] in ('event', 'gc') for w in r.get('gc_windows', r.get('windows', []))]
            cls = {'module event': [], 'module flow GC pass': [], 'conntrack(8) running': [],
                   'flowgen touch (bulk sending)': [], 'nothing else': []}
            lost = {k: 0 for k in cls}

            def inside(s, rtt, ws):
                end = s + (rtt if rtt > 0 else 0)
                return any(a <= end and s <= b for a, b in ws)
            for s, rtt in samples:
                k = ('module event' if inside(s, rtt, mod_w) else
                     'module flow GC pass' if inside(s, rtt, gw) else
                     'conntrack(8) running' if inside(s, rtt, us_w) else
                     'flowgen touch (bulk sending)' if inside(s, rtt, tw) else 'nothing else')
                if rtt < 0:
                    lost[k] += 1
                else:
                    cls[k].append(rtt / 1e6)
            o.h('2b. Other tunnel meanwhile: ICMP echo every 1 ms through tunnel T0 (gwa↔gwb)')
            rows = []
            for k, v in cls.items():
                rows.append([k, len(v) + lost[k], lost[k], fmt(pct(v, 50), 2), fmt(pct(v, 99), 2),
                             fmt(max(v) if v else None, 2)])
            o.table(['while', 'echoes', 'lost', 'p50 ms', 'p99 ms', 'max ms'], rows)

    # Part 4
    M = {r['label']: r for r in R if r['part'] == 'mem'}
    if 'before_rmmod' in M and 'after_rmmod' in M:
        o.h('4. Memory')

        def mem(path):
            return {l.split(':')[0]: int(l.split()[1]) for l in open(path)}
        b, a = M['before_rmmod'], M['after_rmmod']
        sb, sa = read_slabinfo(b['slabinfo']), read_slabinfo(a['slabinfo'])
        mb, ma = mem(b['meminfo']), mem(a['meminfo'])
        flows = b['flows_a'] + b['flows_b']
        caches = []
        for name in sb:
            if name in sa:
                dn = sb[name][0] - sa[name][0]
                if dn > flows // 4:
                    caches.append((name, dn, dn * sb[name][1]))
        slab_kb = mb['Slab'] - ma['Slab']
        vm_kb = mb.get('VmallocUsed', 0) - ma.get('VmallocUsed', 0)
        size = next((r['bytes'] for r in R if r['part'] == 'module_size'), 0)
        o.p(f"rmmod with {flows} flows tracked (gwa {b['flows_a']} of which {b['held_a']} held, "
            f"gwb {b['flows_b']}), conntrack table {b['table']} in gwa: what the module frees.")
        rows = [[n, f'{dn:,}', f'{by / 1024:,.0f}', f'{by / flows:.0f}'] for n, dn, by in caches]
        rows.append(['meminfo Slab', '', f'{slab_kb:,}', f'{slab_kb * 1024 / flows:.0f}'])
        rows.append(['meminfo VmallocUsed (hash tables)', '', f'{vm_kb:,}',
                     f'{vm_kb * 1024 / flows:.0f}'])
        rows.append(['module text+data (/proc/modules)', '', f'{size / 1024:,.0f}', ''])
        o.table(['what', 'objects freed', 'KiB', 'bytes per flow'], rows)
        nfc = sb.get('nf_conntrack')
        if nfc:
            o.p(f"For scale: one conntrack entry is a {nfc[1]}-byte nf_conntrack object (plus its extensions).")
        if 'tracked' in M and 'preserved' in M and caches:
            cache = max(caches, key=lambda c: c[1])[0]
            snaps = [(l, read_slabinfo(M[l]['slabinfo']).get(cache, (0, 0))[0], M[l])
                     for l in ('before_f3', 'tracked', 'preserved') if l in M]
            rows = [[l, f"{m['flows_a'] + m['flows_b']:,}", f"{m['held_a']:,}", f"{m['table']:,}",
                     f'{n:,}'] for l, n, m in snaps]
            o.p(f'The same cache ({cache}) across part 2: the module\'s flows (gwa + gwb) against '
                f'its objects in use.')
            o.table(['snapshot', 'flows tracked', 'held (gwa)', 'gwa table', f'{cache} in use'], rows)

    # Part 7 (resume after a tunnel outage, fast-resume off vs on)
    RS = [r for r in R if r['part'] == 'resume']
    if RS:
        out_s = RS[0]['outage_s']
        o.h(f'7. Resume after a {out_s} s tunnel outage: fast-resume off vs on (side by side)')

        def cell(v):
            return '-' if v is None or v < 0 else f'{v:,}'
        rows = [[str(r['rep']), 'on' if r['fast_resume'] else 'off',
                 {1: 'yes', 0: 'no'}.get(r.get('sa_gone'), '-'), cell(r['resume_ms']),
                 cell(r['flow_delay_ms']), 'byte-exact' if r['byte_exact'] else 'FAILED',
                 cell(r['leaks']), cell(r['hints']), cell(r['drops'])]
                for r in sorted(RS, key=lambda r: (r['rep'], r['fast_resume']))]
        o.table(['round', 'fast-resume', 'tunnel cleared', 'resume ms (client)', 'resume-delay ms (gwb)',
                 'download', 'cleartext on WAN', 'icmp-hints (gwb)', 'pkts-dropped (gwb)'], rows)
        def got(r):
            return r['resume_ms'] is not None and r['resume_ms'] >= 0
        off = [r['resume_ms'] for r in RS if not r['fast_resume'] and got(r)]
        on = [r['resume_ms'] for r in RS if r['fast_resume'] and got(r)]
        if off and on:
            o.p(f"Resume, from the tunnel's SAs back on both gateways to the first resumed "
                f"byte at the client (medians): off {med(off):,.0f} ms, on {med(on):,.0f} ms; "
                f"off/on {med(off) / max(med(on), 1):,.1f}x. \"resume-delay\" is gwb's own "
                f"figure for the flow (vpnsysopt monitor): its SAs back to the flow's first "
                f"packet through them. Off, the figure is what remains of the sender's "
                f"backed-off retransmission timeout when the tunnel returns (up to 120 s); "
                f"on, about one base RTO.")

    dur = next((r['s'] for r in R if r['part'] == 'duration'), None)
    if dur:
        o.p('')
        o.p(f'Run time in the VM: {dur // 60} min {dur % 60} s.')
    print('\n'.join(o.txt))
    with open(mdpath, 'w') as f:
        f.write('\n'.join(o.md).strip() + '\n')


def cmd_check(a):
    R = load_results(a[0])
    res = []

    def ok(cond, name, why=''):
        res.append((bool(cond), name, why))

    def part(p, **kw):
        return [r for r in R if r.get('part') == p and all(r.get(k) == v for k, v in kw.items())]

    cfg = (part('config') or [{}])[0]
    ok(cfg and part('duration'), 'the run started and reached its end (config and duration)')
    pairs_n = cfg.get('pairs', 0)
    # Part 1
    for test in ('tcp', 'udp64'):
        for state in ('off', 'on', 'on_nomss', 'on_knobs'):
            v = [r['value'] for r in part('tput', test=test, state=state)]
            ok(len(v) == pairs_n and all(x > 0 for x in v),
               f'forwarding: {test} {state}: {len(v)} of {pairs_n} rounds moved data', v)
    on = [r['syns_lowered'] for r in part('tput_check', state='on')]
    nomss = [r['syns_lowered'] for r in part('tput_check', state='on_nomss')]
    ok(len(on) == pairs_n and all(x > 0 for x in on),
       f'forwarding: tcpmss on: SYNs lowered in {sum(x > 0 for x in on)} of {pairs_n} rounds', on)
    ok(len(nomss) == pairs_n and not any(nomss),
       f'forwarding: tcpmss off: no SYN lowered in {len(nomss)} rounds', nomss)
    knobs = [r.get('esp_df_rewritten', 0) for r in part('tput_check', state='on_knobs')]
    ok(len(knobs) == pairs_n and all(x > 0 for x in knobs),
       f'forwarding: df-bit clear-df rewrote ESP packets in {sum(x > 0 for x in knobs)} of {pairs_n} rounds', knobs)
    # Part 3
    for var in ('none', 'module', 'iptables', 'nft'):
        v = part('syn', variant=var)
        fw = sum(r['forwarded'] for r in v)
        cl = sum(r['clamped'] for r in v)
        want = 0 if var == 'none' else fw
        ok(len(v) == cfg.get('syn_rounds') and fw > 0 and cl == want,
           f'clamp: {var}: {fw} SYNs forwarded, {cl} clamped (want {want})')
    # Part 2
    for r in part('verify'):
        ok(r['established'] == r['expected'],
           f"populate: tunnel T{r['tunnel']}: {r['established']} of {r['expected']} "
           'flows established through the gateways')
    ev = [r for r in R if r.get('part') == 'event']
    for kind, field, what in (('down', 'count', 'preserved'), ('teardown', 'count', 'torn down'),
                              ('touch_resume', 'resumed', 'resumed'),
                              ('us_list', 'entries', 'found by conntrack -L'),
                              ('us_delete', 'entries', 'deleted by conntrack -D')):
        v = [r for r in ev if r['kind'] == kind]
        bad = [(r['tunnel'], r['table'], r[field], r['n']) for r in v if r[field] != r['n']]
        ok(v and not bad, f'events: {kind}: all {len(v)} times every flow {what}', bad)
    v = [r for r in ev if r['kind'] == 'touch_active']
    ok(v and all(r['resumed'] == 0 for r in v),
       f'events: touch_active: {len(v)} times, no active flow counted as resumed')
    g = [r for r in R if r.get('part') == 'graph' and r.get('kind') == 'active']
    ok(g and all(r['calls'] == 0 for r in g),
       'events: packets of active flows never called vpnflow_flow_track()')
    ups = [r for r in ev if r['kind'] == 'up']
    seen, bad = set(), []
    for r in ups:  # in run order: a tunnel's first re-install walks, the others do not
        first = r['tunnel'] not in seen
        seen.add(r['tunnel'])
        if r.get('walks') != (1 if first else 0):
            bad.append((r['tunnel'], r['table'], r['rep'], r.get('walks')))
    ok(ups and not bad, f'events: re-install: {len(seen)} tunnels walked the table once, '
       f'{len(ups) - len(seen)} later re-installs walked none', bad)
    ok(all(r.get('ms') is not None and r['ms'] >= 0 for r in ev if r['kind'] in ('down', 'up')),
       'events: every down and up timed from the kernel trace')
    gc = (part('gc') or [{}])[0]
    ok(gc.get('passes', 0) > 0, f"flow GC: {gc.get('passes', 0)} passes traced")
    # Part 4
    M = {r['label']: r for r in part('mem')}
    b, af = M.get('before_rmmod'), M.get('after_rmmod')
    freed = 0
    if b and af:
        sb, sa = read_slabinfo(b['slabinfo']), read_slabinfo(af['slabinfo'])
        freed = max((sb[n][0] - sa[n][0] for n in sb if n in sa), default=0)
    flows = b['flows_a'] + b['flows_b'] if b else 0
    ok(b and af and flows > 0 and af['flows_a'] == 0 and freed >= flows * 3 // 4,
       f'memory: rmmod with {flows} flows tracked freed {freed} objects of one cache')
    print('KTAP version 1')
    print(f'1..{len(res)}')
    for i, (c, name, why) in enumerate(res, 1):
        if not c and why not in ('', None):
            print(f'# {why}')
        print(f"{'ok' if c else 'not ok'} {i} {name}")
    nf = sum(1 for c, _, _ in res if not c)
    print(f'# Totals: pass:{len(res) - nf} fail:{nf} xfail:0 xpass:0 skip:0 error:0')
    sys.exit(1 if nf else 0)


if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    {'event': cmd_event, 'report': cmd_report, 'graph': cmd_graph,
     'gc': cmd_gc, 'dump': cmd_dump, 'check': cmd_check}[sys.argv[1]](sys.argv[2:])
