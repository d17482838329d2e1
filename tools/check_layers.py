#!/usr/bin/env python3
"""Checks that the folders of src/ only depend downwards.

The order of the layers is kept here, in one place. A folder may include the
public headers (include/clresnet/<folder>/) of the folders listed for it and
its own; private headers only from its own folder. Anything else, or a circle
between folders, fails with every offending line named. The library (every
folder but the command line) reads no environment variable and never ends
the process: getenv(), exit() and abort() are the command line's.

usage: tools/check_layers.py [ROOT]     (ROOT: the source tree, default: ..)
"""
import os
import re
import sys

# folder -> the folders below it that it may use. core depends on nothing;
# io and data sit on core only; the device stack is runtime < ops < nn;
# eval evaluates models; train uses evaluation for validation; the command
# line is on top.
ALLOWED = {
    'core': set(),
    'io': {'core'},
    'data': {'core'},
    'runtime': {'core'},
    'ops': {'core', 'runtime'},
    'nn': {'core', 'io', 'runtime', 'ops'},
    'eval': {'core', 'io', 'data', 'runtime', 'ops', 'nn'},
    'train': {'core', 'io', 'data', 'runtime', 'ops', 'nn', 'eval'},
    'cli': {'core', 'io', 'data', 'runtime', 'ops', 'nn', 'eval', 'train'},
}

# Headers generated at build time (not in the source tree): the folder whose
# files may include them by their bare name.
GENERATED = {
    'onnx.pb-c.h': 'nn',  # protoc-c's C of onnx.proto (src/meson.build)
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
LIBRARY_CALL = re.compile(r'\b(getenv|secure_getenv|exit|abort)\s*\(')


def folder_of(root, path):
    rel = os.path.relpath(path, root).split(os.sep)
    if rel[0] == 'include':  # include/clresnet/<folder>/x.h
        return rel[2] if len(rel) > 3 else None
    if rel[0] == 'src':
        return rel[1] if len(rel) > 2 else 'cli'  # src/main.c is the command line
    return None


def sources(root):
    for top in ('src', 'include'):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if f.endswith(('.c', '.h')):
                    yield os.path.join(dirpath, f)


def check(root):
    problems, edges = [], {}
    for path in sources(root):
        me = folder_of(root, path)
        if me is None:
            continue
        if me not in ALLOWED:
            problems.append(f'{path}: folder {me!r} is not in the layer order of tools/check_layers.py')
            continue
        text = open(path, encoding='utf-8', errors='replace').read()
        if me != 'cli':
            for m in LIBRARY_CALL.finditer(text):
                line = text.count('\n', 0, m.start()) + 1
                problems.append(f'{os.path.relpath(path, root)}:{line}: {m.group(1)}() in the library ({me}); '
                                f'only the command line (src/cli, src/main.c) may read the environment or end '
                                f'the process')
        for m in INCLUDE.finditer(text):
            inc = m.group(1)
            line = text.count('\n', 0, m.start()) + 1
            where = f'{os.path.relpath(path, root)}:{line}'
            if inc.startswith('clresnet/'):
                parts = inc.split('/')
                dep = parts[1] if len(parts) == 3 else None
                if dep not in ALLOWED:
                    problems.append(f'{where}: "{inc}" is not a header of a known layer')
                elif dep != me:
                    edges.setdefault((me, dep), where)
                    if dep not in ALLOWED[me]:
                        problems.append(f'{where}: {me} includes "{inc}" from {dep}, a layer it may not use '
                                        f'({me} may use: {", ".join(sorted(ALLOWED[me])) or "nothing"})')
            elif me == 'cli' and inc.startswith('cli/') and path.endswith(os.path.join('src', 'main.c')):
                continue
            elif inc in GENERATED and path.startswith(os.path.join(root, 'src')):
                if GENERATED[inc] != me:
                    problems.append(f'{where}: "{inc}" is generated for {GENERATED[inc]}; {me} may not include it')
            elif '/' in inc or not os.path.exists(os.path.join(os.path.dirname(path), inc)):
                problems.append(f'{where}: "{inc}" is another folder\'s private header; include public headers '
                                f'as "clresnet/<layer>/name.h"')
    # circles between folders, from the includes actually present
    graph = {}
    for (a, b) in edges:
        graph.setdefault(a, set()).add(b)
    state = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cyc = stack[stack.index(nxt):] + [nxt]
                problems.append('circle between folders: ' + ' -> '.join(
                    f'{a} ({edges[(a, b)]})' for a, b in zip(cyc, cyc[1:])) + f' -> {nxt}')
            elif state.get(nxt) is None:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if state.get(node) is None:
            visit(node, [node])
    return problems, edges


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    problems, edges = check(root)
    for p in problems:
        print('layering: ' + p)
    if problems:
        print(f'layering: {len(problems)} problem(s); the allowed order is in tools/check_layers.py')
        return 1
    print(f'layering: ok ({len(edges)} dependencies between {len(ALLOWED)} layers, all downwards, no circle)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
