#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write docs/man/jcap.1 and docs/man/jcapd.8 from the programs' own --help
(made from their option tables), as help2man does, plus the hand-written
sections below. Run after changing an option:

    scripts/gen-man.py BUILD_DIR

tests/integration/test_man_pages.py checks that every option of --help is
in the pages and that `man -l` renders them without a warning."""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MAN = os.path.join(HERE, "..", "docs", "man")
SUBCOMMANDS = ("backends", "decrypt", "verify-firmware", "query")
OPT_LINE = re.compile(r"^  (-\S.*?)(?: {2,}(\S.*))?$")
# a long option column leaves one space before the help: NAMES [ARG] HELP
OPT_TIGHT = re.compile(r"^  (-[^ ,]+(?:, -[^ ,]+)?(?: [A-Z][^ ]*)?) (\S.*)$")

TABLE = r"""
.SH THE TABLE
.B \-F table
(the default on a terminal) prints one line per flow, largest bytes first:
.TP
.B START
local time of the first packet, ISO 8601 with milliseconds
.TP
.B DURATION
last packet minus first, in seconds
.TP
.B PROTO
protocol name (tcp, udp, icmp, icmp6, sctp, gre, esp) or number
.TP
.BR SRC ", " DST
address and port; ICMP's type.code in the destination's port, as nfdump
shows it; IPv6 in brackets
.TP
.B APP
the application nDPI named (TLS.YouTube), else the server name the client
asked for (TLS or QUIC SNI, HTTP Host, DNS question); shown when a flow has
one. Bytes that are not printable ASCII are shown as '?'
.TP
.BR SNI ", " STATE
with
.BR \-\-wide :
the TLS/QUIC server name and the TCP connection state as Zeek names it
(S0, SF, REJ, RSTO and the others), shown when a flow has them
.TP
.B FLAGS
TCP flags seen in either direction as nfdump's letters CEUAPRSF, '.' for
a flag not seen; shown when a flow is TCP
.TP
.B TUNNEL
tunnel kind and id (vxlan:42), shown when a flow was tunnelled
.TP
.B VLAN
outer VLAN id, shown when a flow has one
.TP
.BR PKTS ", " BYTES
both directions; from 100000 up with K, M, G, T units (powers of 1000);
JSON and CSV carry the exact numbers
.TP
.BR REV_PKTS ", " REV_BYTES
the part from destination to source
.TP
.B END
why the flow ended: idle, active, end, evicted or shutdown
.PP
The table fits the terminal's width ($COLUMNS when set; no limit when the
output is not a terminal): when a line is too wide, long (IPv6) endpoints
are shortened in the middle to 22 characters and APP names to 20, then
these steps apply in order until it fits: END, VLAN, REV_PKTS, REV_BYTES and
DURATION go; START shows only the time of day; TUNNEL, FLAGS, PKTS and APP
go.
.B \-\-wide
shows every column at full width, with SNI and STATE.
.SH THE TERMINAL
When stderr is a terminal, jcap draws a progress bar while it reads a file
of 4 MiB or more (MiB done, rate, time left), a status line while it
captures live (packets, packets/s, active flows, drops), and ends every run
with a summary line as tcpdump does:
.IP
.nf
1234 packets captured, 0 dropped by kernel, 56 flows
1234 packets read (2 in no flow), 56 flows
.fi
.PP
.B \-q
turns off the status and summary lines,
.B \-\-no\-progress
the bar.
"""

JCAPD_DESC = r"""
.SH DESCRIPTION
.B jcapd
serves the capture engine over a REST API: sessions on interfaces or files,
their flows, statistics and exports. Every key of the configuration file is
also an option (--key-name VALUE, '_' written as '-'); the command line wins
over the file. See docs/JCAPD.md for the API.
"""


def esc(s):
    s = s.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + s if s[:1] in (".", "'") else s


def help_text(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    return p.stdout or p.stderr


def options(lines):
    """(option column, help lines) of every "  -x, --long ARG   help" entry;
    continuation lines are indented past the option column."""
    out = []
    for line in lines:
        m = OPT_LINE.match(line)
        if m and not m.group(2) and " " in m.group(1).split(", ")[-1].partition(" ")[2]:
            m = OPT_TIGHT.match(line)
        if m and not line.startswith("   "):
            out.append([m.group(1).strip(), [m.group(2) or ""]])
        elif out and line.startswith("    ") and line.strip():
            out[-1][1].append(line.strip())
    return out


def opt_roff(left, helps):
    parts = []
    for word in left.split(", "):
        name, _, arg = word.partition(" ")
        parts.append("\\fB%s\\fR%s" % (esc(name), " \\fI%s\\fR" % esc(arg) if arg else ""))
    body = esc(" ".join(h for h in helps if h))
    # break points in long URLs and lists: after / ? & | ,
    body = re.sub(r"([/?&|,])(?=\S)", r"\1\\:", body)
    return ".TP\n%s\n%s\n" % (", ".join(parts), body)


def verbatim(text):
    return ".nf\n" + "\n".join(esc(x) for x in text.rstrip("\n").splitlines()) + "\n.fi\n"


def jcap_page(jcap):
    h = help_text([jcap, "--help"]).splitlines()
    version = help_text([jcap, "-V"]).splitlines()[0].split()[-1]
    # left-adjusted, no hyphenation: export targets are long unbreakable words
    out = ['.TH JCAP 1 "" "jcap %s" "User Commands"' % version, ".ad l", ".nh", ".SH NAME",
           "jcap \\- meter network flows from files or interfaces; print, export, store "
           "and report them", ".SH SYNOPSIS"]
    i = 0
    while i < len(h) and h[i].strip():
        out.append(".br\n" + esc(h[i].replace("usage: ", "").strip()))
        i += 1
    out.append(".SH DESCRIPTION")
    i += 1
    desc = []
    while i < len(h) and h[i].strip():
        desc.append(h[i].strip())
        i += 1
    out.append(esc(" ".join(desc)))
    out.append("A filter expression after the options (tcpdump's syntax, one word or "
               "several) is the same as \\fB\\-\\-filter\\fR.")
    out.append(".SH OPTIONS")
    rest = h[i:]
    for j, line in enumerate(rest):
        if line.endswith(":") and not line.startswith(" "):
            if line == "Commands:":
                rest = rest[j:]
                break
            out.append(".SS %s" % esc(line[:-1]))
            end = next((k for k in range(j + 1, len(rest)) if not rest[k].strip()), len(rest))
            for left, helps in options(rest[j + 1:end]):
                out.append(opt_roff(left, helps).rstrip("\n"))
    out.append(".SH COMMANDS")
    for sub in SUBCOMMANDS:
        out.append(".SS jcap %s" % sub)
        out.append(verbatim(help_text([jcap, sub, "--help"])).rstrip("\n"))
    out.append(".SS jcap version\nprint the version (also \\fB\\-V\\fR, \\fB\\-\\-version\\fR)")
    out.append(TABLE.strip("\n"))
    tail = "\n".join(rest)
    for title, start in (("EXIT STATUS", "Exit status:"), ("EXAMPLES", "Examples:")):
        block = tail[tail.index(start) + len(start):].lstrip("\n").split("\n\n")[0]
        out.append(".SH %s\n%s" % (title, verbatim(block).rstrip("\n")))
    out.append(".SH SEE ALSO\n.BR jcapd (8),\n.BR tcpdump (8),\n.BR nfdump (1),\n"
               ".BR pcap\\-filter (7)")
    return "\n".join(out) + "\n"


def jcapd_page(jcapd):
    h = help_text([jcapd, "--help"]).splitlines()
    version = help_text([jcapd, "--version"]).split()[-1]
    out = ['.TH JCAPD 8 "" "jcapd %s" "System Administration"' % version, ".ad l", ".nh",
           ".SH NAME",
           "jcapd \\- REST daemon of the jcap capture engine", ".SH SYNOPSIS"]
    i = 0
    while i < len(h) and h[i].startswith(("usage", " ")):
        out.append(".br\n" + esc(h[i].replace("usage: ", "").strip()))
        i += 1
    out.append(JCAPD_DESC.strip("\n"))
    out.append(".SH OPTIONS")
    for left, helps in options(h[i:]):
        out.append(opt_roff(left, helps).rstrip("\n"))
    out.append(".SH SEE ALSO\n.BR jcap (1)")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen-man.py BUILD_DIR")
    b = sys.argv[1]
    os.makedirs(MAN, exist_ok=True)
    with open(os.path.join(MAN, "jcap.1"), "w") as f:
        f.write(jcap_page(os.path.join(b, "jcap")))
    if os.access(os.path.join(b, "jcapd"), os.X_OK):
        with open(os.path.join(MAN, "jcapd.8"), "w") as f:
            f.write(jcapd_page(os.path.join(b, "jcapd")))


if __name__ == "__main__":
    main()
