# SPDX-License-Identifier: BSD-3-Clause
"""The man pages (docs/man/jcap.1, jcapd.8, written by scripts/gen-man.py
from the programs' --help) name every option of every option table, name
none that is gone, and `man -l` renders them without a warning."""
import os
import re
import shutil
import subprocess

import pytest

import jcaptest as jt

MAN = os.path.join(jt.source_dir(), "docs", "man")
# an option word: at a line's start or after a blank, '[', '(', ',' or '|'
OPT = re.compile(r"(?:^|(?<=[\s\[(,|]))(--?[A-Za-z][\w-]*)", re.M)
SUBCOMMANDS = ("backends", "decrypt", "verify-firmware", "query")


def help_options(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    text = p.stdout or p.stderr
    return {o for o in OPT.findall(text) if o not in ("-", "--")}


def page(name):
    with open(os.path.join(MAN, name)) as f:
        return f.read().replace("\\-", "-").replace("\\fB", " ").replace("\\fR", " ") \
            .replace("\\fI", " ")


def man_options(text):
    """Options the OPTIONS section lists (.TP entries)."""
    sec = text[text.index(".SH OPTIONS"):]
    sec = sec[:sec.index(".SH ", 4)]
    out = set()
    for entry in sec.split(".TP\n")[1:]:
        out |= set(OPT.findall(entry.splitlines()[0]))
    return out


def test_jcap_page_has_every_option():
    jcap = jt.require_jcap()
    text = page("jcap.1")
    opts = help_options([jcap, "--help"])
    for sub in SUBCOMMANDS:
        opts |= help_options([jcap, sub, "--help"])
    words = set(OPT.findall(text))
    missing = sorted(opts - words)
    assert not missing, "not in docs/man/jcap.1 (run scripts/gen-man.py BUILD): %s" % missing
    stale = sorted(man_options(text) - help_options([jcap, "--help"]))
    assert not stale, "in docs/man/jcap.1 but not in jcap --help: %s" % stale


def test_jcapd_page_has_every_option():
    jcapd = os.path.join(jt.build_dir(), "jcapd")
    if not os.access(jcapd, os.X_OK):
        pytest.skip("jcapd not built (libmicrohttpd/jansson missing)")
    text = page("jcapd.8")
    opts = help_options([jcapd, "--help"])
    missing = sorted(opts - set(OPT.findall(text)))
    assert not missing, "not in docs/man/jcapd.8 (run scripts/gen-man.py BUILD): %s" % missing
    stale = sorted(man_options(text) - opts)
    assert not stale, stale


@pytest.mark.parametrize("name", ["jcap.1", "jcapd.8"])
def test_man_renders_without_warnings(name):
    if not shutil.which("man"):
        pytest.skip("man is not installed")
    p = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", os.path.join(MAN, name)],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat"))
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert "OPTIONS" in p.stdout and len(p.stdout.splitlines()) > 20


def complete(words):
    """COMPREPLY of dist/jcap.bash-completion for the command line @words."""
    script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _jcap; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    p = subprocess.run(["bash", "-c", script, "bash",
                        os.path.join(jt.source_dir(), "dist", "jcap.bash-completion"),
                        jt.require_jcap()] + words, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


def test_bash_completion():
    assert complete(["q"]) == ["query"]
    assert complete(["--time-f"]) == ["--time-format"]
    assert complete(["--time-format", ""]) == ["ns", "iso"]
    assert complete(["query", "db", "--su"]) == ["--summary"]
    assert complete(["-F", "c"]) == ["csv"]
    # every option of --help completes
    opts = help_options([jt.require_jcap(), "--help"])
    assert set(complete(["-"])) == opts


def test_readme_commands_use_real_options():
    """Every option of a `jcap ...` command in the README's examples is one
    that `jcap [SUBCOMMAND] --help` lists, and the man page has it too."""
    jcap = jt.require_jcap()
    with open(os.path.join(jt.source_dir(), "README.md")) as f:
        readme = f.read()
    man = set(OPT.findall(page("jcap.1")))
    known = {None: help_options([jcap, "--help"])}
    for sub in SUBCOMMANDS:
        known[sub] = help_options([jcap, sub, "--help"])
    checked = 0
    for block in re.findall(r"```(?:sh)?\n(.*?)```", readme, re.S):
        for line in block.splitlines():
            m = re.search(r"(?:^|\$ |&& )(?:\S*/)?jcap (.*)", line)
            if not m:
                continue
            cmd = m.group(1).split("#")[0].split("&&")[0].split("|")[0]
            words = cmd.split()
            sub = words[0] if words and words[0] in known else None
            for w in words:
                if re.fullmatch(r"--?[A-Za-z][\w-]*", w):
                    assert w in known[sub], (line, w)
                    assert w in man, (line, w)
                    checked += 1
    assert checked > 30
