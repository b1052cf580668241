#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Generate the uapi header and the kernel policy/op tables of the vpnflow
generic netlink family from spec/vpnflow.yaml.

A deliberately small subset of the kernel's tools/net/ynl/ynl-gen-c.py:
u8/u16/u32/u64/string/flag/nest attributes, min/max checks (max-len for
strings), do and dump
operations (a dump's pre/post: its start/done callbacks), op flags and
multicast group flags (cap-net-admin: GENL_MCAST_CAP_NET_ADMIN).

  ynl-gen.py SPEC --uapi OUT.h --kernel-h OUT.h --kernel-c OUT.c
"""
import argparse
import sys

import yaml


def c_upper(name):
    return name.upper().replace('-', '_')


def c_lower(name):
    return name.lower().replace('-', '_')


class Spec:
    def __init__(self, path):
        with open(path) as f:
            self.y = yaml.safe_load(f)
        self.path = path
        self.name = self.y['name']
        self.fam = c_upper(self.name)
        self.consts = {d['name']: d['value'] for d in self.y.get('definitions', [])
                       if d['type'] == 'const'}
        self.sets = {s['name']: s for s in self.y['attribute-sets']}
        self.ops = self.y['operations']['list']
        self.mcgrps = (self.y.get('mcast-groups') or {}).get('list', [])

    def set_prefix(self, sname):
        if sname == self.name:
            return f'{self.fam}_A_'
        return f'{self.fam}_A_{c_upper(sname)}_'

    def value(self, v):
        if isinstance(v, int):
            return v
        return self.consts[v]

    def value_c(self, v):
        if isinstance(v, int):
            return str(v)
        return f'{self.fam}_{c_upper(v)}'


HDR = '/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */\n'
KHDR = '// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)\n'


def banner(spec):
    return ('/* Do not edit directly, auto-generated from: */\n'
            f'/*\t{spec.path} */\n'
            '/* YNL-GEN by scripts/ynl-gen.py */\n\n')


def gen_uapi(spec):
    guard = f'_UAPI_LINUX_{spec.fam}_H'
    out = [HDR, banner(spec), f'#ifndef {guard}\n#define {guard}\n\n']
    out.append(f'#define {spec.fam}_FAMILY_NAME\t"{spec.name}"\n')
    out.append(f'#define {spec.fam}_FAMILY_VERSION\t1\n\n')
    for d in spec.y.get('definitions', []):
        if d['type'] == 'const':
            out.append(f'#define {spec.fam}_{c_upper(d["name"])}\t{d["value"]}\n')
        elif d['type'] == 'enum':
            out.append(f'\nenum {c_lower(spec.name)}_{c_lower(d["name"])} {{\n')
            start = d.get('value-start', 0)
            for i, e in enumerate(d['entries']):
                out.append(f'\t{spec.fam}_{c_upper(d["name"])}_{c_upper(e)}{f" = {start}" if i == 0 else ""},\n')
            out.append('};\n')
    for s in spec.y['attribute-sets']:
        p = spec.set_prefix(s['name'])
        out.append('\nenum {\n')
        for i, a in enumerate(s['attributes']):
            out.append(f'\t{p}{c_upper(a["name"])}{" = 1" if i == 0 else ""},\n')
        mx = p.rstrip('_')
        out.append(f'\n\t__{mx}_MAX,\n\t{mx}_MAX = (__{mx}_MAX - 1)\n}};\n')
    out.append('\nenum {\n')
    for i, o in enumerate(spec.ops):
        out.append(f'\t{spec.fam}_CMD_{c_upper(o["name"])}{" = 1" if i == 0 else ""},\n')
    out.append(f'\n\t__{spec.fam}_CMD_MAX,\n\t{spec.fam}_CMD_MAX = (__{spec.fam}_CMD_MAX - 1)\n}};\n')
    for g in spec.mcgrps:
        out.append(f'\n#define {spec.fam}_MCGRP_{c_upper(g["name"])}\t"{g["name"]}"\n')
    out.append(f'\n#endif /* {guard} */\n')
    return ''.join(out)


NLA = {'u8': 'NLA_U8', 'u16': 'NLA_U16', 'u32': 'NLA_U32', 'u64': 'NLA_U64',
       'string': 'NLA_NUL_STRING', 'flag': 'NLA_FLAG', 'nest': 'NLA_NESTED', 'pad': 'NLA_UNSPEC', 'binary': 'NLA_BINARY'}
S16_MAX = 32767


def attr_policy(spec, sname, a, ranges):
    t = a['type']
    if t == 'nest':
        return f'NLA_POLICY_NESTED({c_lower(spec.name)}_{c_lower(a["nested-attributes"])}_nl_policy)'
    chk = a.get('checks', {})
    if not chk:
        return f'{{ .type = {NLA[t]}, }}'
    if t == 'string':
        return f'{{ .type = {NLA[t]}, .len = {spec.value_c(chk["max-len"])}, }}'
    lo = chk.get('min')
    hi = chk.get('max')
    if t in ('u8', 'u16', 'u32', 'u64') and ((hi is not None and spec.value(hi) > S16_MAX) or
                                             (lo is not None and spec.value(lo) > S16_MAX)):
        rname = f'{c_lower(spec.name)}_a_{c_lower(sname)}_{c_lower(a["name"])}_range'
        ranges.append(f'static struct netlink_range_validation {rname} = {{\n'
                      + (f'\t.min = {spec.value_c(lo)},\n' if lo is not None else '')
                      + (f'\t.max = {spec.value_c(hi)},\n' if hi is not None else '')
                      + '};\n')
        return f'NLA_POLICY_FULL_RANGE({NLA[t]}, &{rname})'
    if lo is not None and hi is not None:
        return f'NLA_POLICY_RANGE({NLA[t]}, {spec.value_c(lo)}, {spec.value_c(hi)})'
    if hi is not None:
        return f'NLA_POLICY_MAX({NLA[t]}, {spec.value_c(hi)})'
    return f'NLA_POLICY_MIN({NLA[t]}, {spec.value_c(lo)})'


def nested_order(spec):
    """Attribute sets in dependency order (nested sets first)."""
    done, order = set(), []

    def visit(n):
        if n in done:
            return
        done.add(n)
        for a in spec.sets[n]['attributes']:
            if a['type'] == 'nest':
                visit(a['nested-attributes'])
        order.append(n)
    for s in spec.y['attribute-sets']:
        visit(s['name'])
    return order


def used_sets(spec):
    """Sets reachable from some request (those need a policy)."""
    used = set()

    def visit(n):
        if n in used:
            return
        used.add(n)
        for a in spec.sets[n]['attributes']:
            if a['type'] == 'nest':
                visit(a['nested-attributes'])
    for o in spec.ops:
        req = op_request(o)
        if req:
            for an in req['attributes']:
                a = next(x for x in spec.sets[o['attribute-set']]['attributes'] if x['name'] == an)
                if a['type'] == 'nest':
                    visit(a['nested-attributes'])
    return used


def policy_line(idx, pol):
    line = f'\t{idx} = {pol},\n'
    if len(line.expandtabs(8)) <= 101:
        return line
    return f'\t{idx} =\n\t\t{pol},\n'


def op_fn(spec, o, kind='do'):
    return f'{c_lower(spec.name)}_nl_{c_lower(o["name"])}_{kind}it'


def op_request(o):
    for kind in ('do', 'dump'):
        req = (o.get(kind) or {}).get('request')
        if req:
            return req
    return None


def table_ops(spec):
    """Operations with handlers (events are only sent)."""
    return [o for o in spec.ops if 'do' in o or 'dump' in o]


def gen_kernel_h(spec):
    fam = c_lower(spec.name)
    guard = f'_LINUX_{spec.fam}_GEN_H'
    out = [HDR, banner(spec), f'#ifndef {guard}\n#define {guard}\n\n',
           '#include <net/netlink.h>\n#include <net/genetlink.h>\n\n',
           f'#include <uapi/linux/{spec.name}.h>\n\n']
    for n in nested_order(spec):
        if n in used_sets(spec):
            p = spec.set_prefix(n).rstrip('_')
            out.append(f'extern const struct nla_policy {fam}_{c_lower(n)}_nl_policy[{p}_MAX + 1];\n')
    out.append('\n')
    for o in table_ops(spec):
        if 'do' in o:
            out.append(f'int {op_fn(spec, o)}(struct sk_buff *skb, struct genl_info *info);\n')
        if 'dump' in o:
            out.append(f'int {op_fn(spec, o, "dump")}(struct sk_buff *skb, struct netlink_callback *cb);\n')
            for k in ('pre', 'post'):
                if k in o['dump']:
                    out.append(f'int {c_lower(o["dump"][k])}(struct netlink_callback *cb);\n')
    out.append(f'\nextern const struct genl_ops {fam}_nl_ops[{len(table_ops(spec))}];\n')
    if spec.mcgrps:
        out.append('\nenum {\n')
        for g in spec.mcgrps:
            out.append(f'\t{spec.fam}_NLGRP_{c_upper(g["name"])},\n')
        out.append('};\n')
        out.append(f'\nextern const struct genl_multicast_group {fam}_nl_mcgrps[{len(spec.mcgrps)}];\n')
    out.append(f'\n#endif /* {guard} */\n')
    return ''.join(out)


def gen_kernel_c(spec):
    fam = c_lower(spec.name)
    out = [KHDR, banner(spec), f'#include "netlink-gen.h"\n\n']
    used = used_sets(spec)
    body, ranges = [], []
    for n in nested_order(spec):
        if n not in used:
            continue
        p = spec.set_prefix(n)
        body.append(f'/* Common nested types */\n' if not body else '')
        body.append(f'const struct nla_policy {fam}_{c_lower(n)}_nl_policy[{p.rstrip("_")}_MAX + 1] = {{\n')
        for a in spec.sets[n]['attributes']:
            body.append(policy_line(f'[{p}{c_upper(a["name"])}]', attr_policy(spec, n, a, ranges)))
        body.append('};\n\n')
    out.extend(r + '\n' for r in ranges)
    out.extend(body)
    # One policy per request: only the attributes the request may carry.
    for o in spec.ops:
        req = op_request(o)
        if not req:
            continue
        p = spec.set_prefix(o['attribute-set'])
        mx = max(i + 1 for i, a in enumerate(spec.sets[o['attribute-set']]['attributes'])
                 if a['name'] in req['attributes'])
        last = c_upper(spec.sets[o['attribute-set']]['attributes'][mx - 1]['name'])
        out.append(f'/* {spec.fam}_CMD_{c_upper(o["name"])} - {"do" if "do" in o else "dump"} */\n')
        out.append(f'static const struct nla_policy {fam}_{c_lower(o["name"])}_nl_policy[{p}{last} + 1] = {{\n')
        for an in req['attributes']:
            a = next(x for x in spec.sets[o['attribute-set']]['attributes'] if x['name'] == an)
            out.append(policy_line(f'[{p}{c_upper(an)}]', attr_policy(spec, o['attribute-set'], a, [])))
        out.append('};\n\n')
    out.append(f'/* Ops table for {spec.name} */\n')
    out.append(f'const struct genl_ops {fam}_nl_ops[{len(table_ops(spec))}] = {{\n')
    for o in table_ops(spec):
        req = op_request(o)
        out.append('\t{\n')
        out.append(f'\t\t.cmd\t\t= {spec.fam}_CMD_{c_upper(o["name"])},\n')
        if 'do' in o:
            out.append(f'\t\t.doit\t\t= {op_fn(spec, o)},\n')
        if 'dump' in o:
            # pre/post of a dump: the callbacks that begin and end it
            if 'pre' in o['dump']:
                out.append(f'\t\t.start\t\t= {c_lower(o["dump"]["pre"])},\n')
            out.append(f'\t\t.dumpit\t\t= {op_fn(spec, o, "dump")},\n')
            if 'post' in o['dump']:
                out.append(f'\t\t.done\t\t= {c_lower(o["dump"]["post"])},\n')
        if req:
            p = spec.set_prefix(o['attribute-set'])
            mx = max(i + 1 for i, a in enumerate(spec.sets[o['attribute-set']]['attributes'])
                     if a['name'] in req['attributes'])
            last = c_upper(spec.sets[o['attribute-set']]['attributes'][mx - 1]['name'])
            out.append(f'\t\t.policy\t\t= {fam}_{c_lower(o["name"])}_nl_policy,\n')
            out.append(f'\t\t.maxattr\t= {p}{last},\n')
        flags = ' | '.join('GENL_' + c_upper(f) for f in o.get('flags', []))
        out.append(f'\t\t.flags\t\t= {flags or 0},\n')
        out.append('\t},\n')
    out.append('};\n')
    if spec.mcgrps:
        out.append(f'\nconst struct genl_multicast_group {fam}_nl_mcgrps[] = {{\n')
        for g in spec.mcgrps:
            flags = ' | '.join('GENL_MCAST_' + c_upper(f) for f in g.get('flags', []))
            out.append(f'\t[{spec.fam}_NLGRP_{c_upper(g["name"])}] = '
                       f'{{ .name = "{g["name"]}",{f" .flags = {flags}," if flags else ""} }},\n')
        out.append('};\n')
    return ''.join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('spec')
    ap.add_argument('--uapi')
    ap.add_argument('--kernel-h')
    ap.add_argument('--kernel-c')
    args = ap.parse_args()
    spec = Spec(args.spec)
    for path, fn in ((args.uapi, gen_uapi), (args.kernel_h, gen_kernel_h),
                     (args.kernel_c, gen_kernel_c)):
        if path:
            with open(path, 'w') as f:
                f.write(fn(spec))
    return 0


if __name__ == '__main__':
    sys.exit(main())
