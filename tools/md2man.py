#!/usr/bin/env python3
# Build a man page from one of docs/NAME.SECTION.md with go-md2man (the
# converter podman and docker use), at build time.
#   md2man.py GO_MD2MAN IN.md OUT VERSION
# The markdown starts "# NAME(SECTION)" (readable on a forge); go-md2man
# wants a pandoc title block for .TH, so the first line is replaced by
# one. Two fixes to its output keep `man --warnings` quiet at 80 columns:
# every table cell becomes a text block (T{ ... T}, which tbl wraps; a
# plain cell is never wrapped and a long one makes the table wider than
# the page), and the text is left-aligned (long unbreakable words such as
# paths would otherwise be reported as lines troff cannot adjust).
import os
import re
import subprocess
import sys
import time

SECTION_NAMES = {"1": "User Commands", "5": "File Formats",
                 "8": "System Manager's Manual"}


def title_block(first_line, version):
    m = re.match(r"^#\s+([A-Za-z0-9_.-]+)\((\d)\)\s*$", first_line)
    if not m:
        sys.exit("md2man: the first line must be '# NAME(SECTION)', not %r"
                 % first_line.strip())
    name, sect = m.group(1), m.group(2)
    # reproducible: the date comes from SOURCE_DATE_EPOCH (dpkg sets it
    # from debian/changelog), never from the clock of the build
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    date = time.strftime("%Y-%m-%d", time.gmtime(int(epoch))) if epoch else ""
    return '%% %s %s "%s" "twofold %s" "%s"\n' % (
        name, sect, date, version, SECTION_NAMES.get(sect, ""))


def split_cells(body):
    """Rows of a tbl body: each row a list of cells (text blocks kept)."""
    rows, row, cell, in_block = [], [], [], False
    for line in body:
        if in_block:
            if line.startswith("T}"):
                in_block = False
                row.append("\n".join(cell))
                cell = []
                rest = line[2:]
                if rest.startswith("\t"):
                    rest = rest[1:]
                    if rest == "":
                        continue
                    line = rest
                else:
                    rows.append(row)
                    row = []
                    continue
            else:
                cell.append(line)
                continue
        parts = line.split("\t")
        for i, p in enumerate(parts):
            if p == "T{" and i == len(parts) - 1:
                in_block = True
            else:
                row.append(p)
        if not in_block:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return rows


PAGE = 80 - 7  # MANWIDTH=80 less the indent of a section's text
PLAIN_MAX = 16  # a column whose cells all fit stays plain (never wrapped)


def visible_len(cell):
    # roff escapes take no room: \fB \fC \fR \fP \& \(bu and the like
    s = re.sub(r"\\f(\(..|\[[^]]*\]|.)", "", cell)
    s = re.sub(r"\\\(..", "x", s)
    s = s.replace("\\&", "").replace("\\-", "-")
    return max((len(l) for l in s.split("\n")), default=0)


def breakable(cell):
    # names like throttle_max_failures and paths are longer than a narrow
    # column: \: lets troff break after an underscore, a slash, a comma
    # or a colon
    return "\n".join(l if l.startswith(".") else
                     re.sub(r"([_/,:])", r"\1\\:", l)
                     for l in cell.split("\n"))


def fix_table(lines):
    # lines: .TS, options;, format lines (the last ends with '.'), body
    i = 1
    out = [lines[0]]
    while i < len(lines) and lines[i].rstrip().endswith(";"):
        out.append(lines[i])
        i += 1
    fmt = []
    while i < len(lines):
        fmt.append(lines[i])
        i += 1
        if fmt[-1].rstrip().endswith("."):
            break
    ncols = len(fmt[-1].rstrip(" .").split())
    # go-md2man ends a text block with "T}" alone on its line and puts
    # the row's next cells on the line after, starting with a tab; tbl
    # would read that as a new row with an empty first cell
    body = "\n".join(lines[i:]).replace("T}\n\t", "T}\t").split("\n")
    rows = [r + [""] * (ncols - len(r)) for r in split_cells(body)]
    width = [max(visible_len(r[c]) for r in rows) for c in range(ncols)]
    # a wrapped column is never narrower than its longest word (tbl
    # cannot break it) nor than 10
    word = [max(visible_len(w) for r in rows
                for w in re.split(r"\s+|(?<=[_/,:])", r[c]) + [""])
            for c in range(ncols)]
    # allbox: a rule and a space either side of every cell
    room = PAGE - (3 * ncols + 1)
    wide = [c for c in range(ncols) if width[c] > PLAIN_MAX]
    low = {c: max(10, word[c]) for c in range(ncols)}
    # a column of names (keys, verbs) reads better unwrapped: keep the
    # narrowest ones plain while the others keep half again their floor
    for c in sorted(wide, key=lambda c: width[c]):
        rest = [w for w in wide if w != c]
        fixed = sum(width[p] for p in range(ncols) if p not in wide)
        if width[c] <= 2 * PLAIN_MAX and rest and \
                room - fixed - width[c] >= sum(low[w] * 3 // 2 for w in rest):
            wide = rest
    # and when the plain ones leave too little, the widest is wrapped too
    while True:
        plain = [c for c in range(ncols) if c not in wide]
        if not plain or room - sum(width[c] for c in plain) >= \
                sum(low[w] for w in wide):
            break
        wide.append(max(plain, key=lambda c: width[c]))
    left = room - sum(width[c] for c in range(ncols) if c not in wide)
    extra = max(0, left - sum(low.values()))
    want = sum(width[c] - low[c] for c in wide) or 1
    spec = []
    for c in range(ncols):
        if c in wide:
            # the wrapped columns share what the plain ones leave, in
            # proportion to how much more than their floor they hold
            share = low[c] + extra * (width[c] - low[c]) // want
            spec.append("lw(%dn)" % share)
        else:
            spec.append("l")
    out += [" ".join(spec) + " ."]
    for r in rows:
        out.append("\t".join(
            "T{\n%s\nT}" % breakable(r[c]) if c in wide and r[c] else r[c]
            for c in range(ncols)))
    return out


def fix(roff):
    lines = roff.split("\n")
    out, table = [], None
    for line in lines:
        if table is not None:
            if line.startswith(".TE"):
                out += fix_table(table)
                out.append(line)
                table = None
            else:
                table.append(line)
            continue
        if line.startswith(".TS"):
            table = [line]
            continue
        out.append(line)
        if line.startswith(".TH "):
            out.append(".ad l")
    return "\n".join(out)


def join_dot_lines(md):
    """A wrapped paragraph line that starts with '.' or "'" (also inside a
    code span) would start a roff line with a control character, which
    go-md2man does not escape: join it to the line before (a paragraph's
    lines are joined by a space anyway)."""
    out, fence = [], False
    for line in md.split("\n"):
        if line.lstrip().startswith("```"):
            fence = not fence
        head = line.lstrip().lstrip("`*_")
        if (not fence and out and out[-1].strip() and head[:1] in (".", "'")
                and not out[-1].lstrip().startswith(("|", "#", "```"))):
            out[-1] += " " + line.lstrip()
            continue
        out.append(line)
    return "\n".join(out)


def main():
    tool, src, dst, version = sys.argv[1:5]
    with open(src, encoding="utf-8") as f:
        md = f.read().split("\n", 1)
    text = title_block(md[0], version) + (join_dot_lines(md[1])
                                          if len(md) > 1 else "")
    roff = subprocess.run([tool], input=text.encode(), check=True,
                          stdout=subprocess.PIPE).stdout.decode()
    tmp = dst + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(fix(roff))
    os.replace(tmp, dst)


if __name__ == "__main__":
    main()
