#!/usr/bin/env python3
"""cgsum.py: read valgrind callgrind output files (event Ir) for the benchmark.

  cgsum.py total FILE...             the summed "Collected" totals
  cgsum.py objects FILE              self cost per shared object
  cgsum.py top FILE N                the N functions with the most self cost
  cgsum.py delta FILE_A FILE_B K N   per-function self cost (B - A) / K, top N

Written for this benchmark from the format's description in valgrind's
callgrind manual (name compression, calls= lines followed by the call's
inclusive cost, which is not the caller's own).
"""
import os
import sys


def parse(path):
    """{(object, function): self Ir} and the file's total."""
    names = {}          # (kind, id) -> name
    cost = {}
    total = 0
    ob = fn = "???"
    skip_next = False

    def name(kind, rest):
        rest = rest.strip()
        if rest.startswith("("):
            end = rest.index(")")
            key = (kind, rest[1:end])
            if end + 1 < len(rest):
                names[key] = rest[end + 1:].strip()
            return names.get(key, "???")
        return rest

    with open(path, errors="replace") as f:
        for line in f:
            if not line or line[0] == "#":
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                if skip_next:
                    skip_next = False
                    continue
                fields = line.split()
                if len(fields) >= 2:
                    v = int(fields[-1])
                    cost[(ob, fn)] = cost.get((ob, fn), 0) + v
                continue
            if line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
                continue
            key, _, rest = line.partition("=")
            if key == "ob":
                ob = name("ob", rest)
            elif key == "fn":
                fn = name("fn", rest)
            elif key in ("cob", "cfn"):
                name(key[1:], rest)
            elif key in ("fl", "fi", "fe", "cfi", "cfl"):
                name("fl", rest)
            elif key == "calls":
                skip_next = True
    return cost, total


def short(obj):
    return os.path.basename(obj) if obj != "???" else "(no object)"


def main(argv):
    if len(argv) >= 2 and argv[0] == "total":
        print(sum(parse(p)[1] for p in argv[1:]))
    elif len(argv) == 2 and argv[0] == "objects":
        cost, total = parse(argv[1])
        per = {}
        for (ob, _), v in cost.items():
            per[short(ob)] = per.get(short(ob), 0) + v
        for ob, v in sorted(per.items(), key=lambda x: -x[1]):
            print("%12s  %5.1f%%  %s" % (format(v, ","), 100.0 * v / max(total, 1), ob))
    elif len(argv) == 3 and argv[0] == "top":
        cost, total = parse(argv[1])
        for (ob, fn), v in sorted(cost.items(), key=lambda x: -x[1])[:int(argv[2])]:
            print("%12s  %5.1f%%  %s [%s]" % (format(v, ","), 100.0 * v / max(total, 1), fn, short(ob)))
    elif len(argv) == 5 and argv[0] == "delta":
        a, _ = parse(argv[1])
        b, _ = parse(argv[2])
        k = float(argv[3])
        d = {key: (b.get(key, 0) - a.get(key, 0)) / k for key in set(a) | set(b)}
        for (ob, fn), v in sorted(d.items(), key=lambda x: -x[1])[:int(argv[4])]:
            print("%12s  %s [%s]" % (format(round(v), ","), fn, short(ob)))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
