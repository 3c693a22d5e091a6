#!/usr/bin/env python3
"""Code-shape checks for Menagerie's crates: functions over N lines, files over M lines, and
import circles between the files of one crate.

Import edges: every `crate::a::b` / `super::a` path in a file (use lines, `use` groups and
inline paths), and in a `mod.rs`/`lib.rs` every path through a child module it declares
(`mod http;` ... `http::serve`), resolved to the deepest module file that exists
(`src/a/b.rs`, `src/a/b/mod.rs`, `src/a.rs`, ...). A `mod x;` line alone is not an edge (it
declares, it does not import). Comments and string literals are ignored.

Usage: code_shape.py [--max-fn 70] [--max-file 800] CRATE_DIR...
Exit status 1 when a circle, a long function or a long file is found.
"""
import argparse
import os
import re
import sys


def strip_code(text):
    """Blanks out comments, strings and char literals (keeps newlines and braces of code)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


FN = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)")


def long_functions(path, limit):
    text = strip_code(open(path, encoding="utf-8").read())
    lines = text.split("\n")
    found = []
    for idx, line in enumerate(lines):
        m = FN.match(line)
        if not m:
            continue
        depth, started, end = 0, False, None
        for j in range(idx, len(lines)):
            for ch in lines[j]:
                if ch == "{":
                    depth += 1
                    started = True
                elif ch == "}":
                    depth -= 1
                elif ch == ";" and not started and depth == 0:
                    end = j
                    break
            if end is not None or (started and depth == 0):
                end = j
                break
        if end is None or not started:
            continue
        length = end - idx + 1
        if length > limit:
            found.append((path, idx + 1, m.group(1), length))
    return found


def module_files(src):
    files = {}
    for root, _, names in os.walk(src):
        for name in names:
            if name.endswith(".rs"):
                p = os.path.join(root, name)
                rel = os.path.relpath(p, src)[:-3].split(os.sep)
                if rel[-1] == "mod":
                    rel = rel[:-1]
                if rel == ["lib"] or rel == ["main"]:
                    rel = []
                files[tuple(rel)] = p
    return files


PATH = re.compile(r"\b(crate|super|self)((?:::\w+)+)|\b(crate|super)::\{([^}]*)\}")


def edges(src):
    files = module_files(src)
    graph = {}
    for mod, path in files.items():
        text = strip_code(open(path, encoding="utf-8").read())
        # `use crate::x::{a, b::c}` groups name x::a and x::b::c.
        targets = set()
        groups = list(re.finditer(r"\b(crate|super)((?:::\w+)*)::\{([^{}]*)\}", text))
        for m in groups:
            prefix = tuple(m.group(2).split("::")[1:])
            for part in m.group(3).split(","):
                part = part.strip().split(" as ")[0]
                if part:
                    targets.add((m.group(1), prefix + tuple(part.split("::"))))
        # Other paths, with the `use a::{...}` groups blanked out (their prefix alone would
        # name the parent module).
        ungrouped = text
        for m in reversed(groups):
            ungrouped = ungrouped[: m.start()] + " " * (m.end() - m.start()) + ungrouped[m.end():]
        for m in re.finditer(r"\b(crate|super|self)((?:::\w+)+)", ungrouped):
            targets.add((m.group(1), tuple(m.group(2).split("::")[1:])))
        # Paths through child modules declared here (`mod http;` ... `http::serve`).
        is_mod_file = path.endswith("mod.rs") or mod == ()
        if is_mod_file:
            for child in re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text, re.M):
                if re.search(r"(?<![\w:])" + child + r"::", text):
                    targets.add(("crate", mod + (child,)))
        for base, rest in targets:
            if base == "crate":
                full = rest
            elif base == "super":
                full = mod[:-1] + rest
            elif is_mod_file:  # self:: in a mod.rs names its child modules
                full = mod + rest
            else:  # self:: in a leaf file names its own items
                continue
            # deepest existing module file
            for k in range(len(full), -1, -1):
                if full[:k] in files:
                    target = full[:k]
                    break
            if target != mod:
                graph.setdefault(mod, set()).add(target)
    return files, graph


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-fn", type=int, default=70)
    ap.add_argument("--max-file", type=int, default=800)
    ap.add_argument("crates", nargs="+")
    a = ap.parse_args()
    bad = False
    for crate in a.crates:
        src = os.path.join(crate, "src")
        files, graph = edges(src)
        name = lambda m: "::".join(m) or "lib"
        for comp in cycles(graph):
            bad = True
            print(f"{crate}: import circle: {', '.join(sorted(name(m) for m in comp))}")
        for root, _, names in os.walk(crate):
            if "target" in root:
                continue
            for n in sorted(names):
                if not n.endswith(".rs"):
                    continue
                p = os.path.join(root, n)
                count = sum(1 for _ in open(p, encoding="utf-8"))
                in_src = os.sep + "src" + os.sep in p
                if count > a.max_file and in_src:
                    bad = True
                    print(f"{p}: {count} lines")
                if in_src:
                    for path, line, fn, length in long_functions(p, a.max_fn):
                        bad = True
                        print(f"{path}:{line}: fn {fn}: {length} lines")
        print(f"{crate}: {len(files)} files, {sum(len(v) for v in graph.values())} import edges checked")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
