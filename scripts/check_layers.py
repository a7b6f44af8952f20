#!/usr/bin/env python3
"""Fails if a header under include/entidb/ includes one from a higher layer.

The layers, lowest first (docs/architecture.md draws them). A header may include headers of
its own layer and of lower ones; detail/ holds leaf utilities that include only the
vocabulary below them. Usage: check_layers.py [include/entidb] | --self-test
"""
import os
import re
import sys

# Top-level headers are placed one by one; a directory's headers share its layer.
LAYERS = [
    ('vocabulary', ['bytes.hpp', 'error.hpp', 'version.hpp', 'index_kind.hpp', 'entity_id.hpp']),
    ('detail', ['detail/']),
    ('crypto', ['crypto/']),
    ('text', ['text/']),
    ('cbor', ['cbor/', 'cbor.hpp', 'codec.hpp', 'hash.hpp']),
    ('storage', ['storage/']),
    ('format', ['format/', 'config.hpp']),
    ('wal', ['wal/']),
    ('segment', ['segment/']),
    ('index', ['index/']),
    ('directory', ['directory/']),
    ('engine vocabulary', ['change_feed.hpp', 'compaction.hpp', 'migration.hpp', 'statistics.hpp', 'verify_result.hpp']),
    ('core', ['core/']),
    ('transactions', ['txn/']),
    ('public API', ['database.hpp', 'collection.hpp', 'backup.hpp', 'verify.hpp', 'salvage.hpp', 'entidb.hpp']),
    ('sync', ['sync/']),
    ('C ABI', ['c/']),
]


def layer_of(path):
    for rank, (_, members) in enumerate(LAYERS):
        for m in members:
            if path == m or (m.endswith('/') and path.startswith(m)):
                return rank
    return None


def self_test():
    """The check itself: a tree with one upward include must fail, the same tree without it pass."""
    import tempfile
    with tempfile.TemporaryDirectory() as root:
        for sub in ('detail', 'core'):
            os.mkdir(os.path.join(root, sub))
        with open(os.path.join(root, 'core', 'engine.hpp'), 'w') as f:
            f.write('#include "../detail/endian.hpp"\n')
        with open(os.path.join(root, 'detail', 'endian.hpp'), 'w') as f:
            f.write('#include "../bytes.hpp"\n')
        open(os.path.join(root, 'bytes.hpp'), 'w').close()
        if check(root) != 0:
            print('self-test: a tree whose includes point down was refused')
            return 1
        with open(os.path.join(root, 'detail', 'endian.hpp'), 'a') as f:
            f.write('#include "../core/engine.hpp"\n')
        if check(root) == 0:
            print('self-test: an upward include was not found')
            return 1
    print('self-test passed')
    return 0


def main():
    if sys.argv[1:] == ['--self-test']:
        return self_test()
    return check(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'include', 'entidb'))


def check(root):
    problems = []
    count = 0
    for d, _, files in os.walk(root):
        for f in sorted(files):
            if not f.endswith(('.hpp', '.h')):
                continue
            full = os.path.join(d, f)
            src = os.path.relpath(full, root).replace(os.sep, '/')
            src_rank = layer_of(src)
            if src_rank is None:
                problems.append(f'{src}: not placed in a layer (scripts/check_layers.py)')
                continue
            for m in re.finditer(r'#include "([^"]+)"', open(full, encoding='utf-8').read()):
                target = os.path.relpath(os.path.normpath(os.path.join(d, m.group(1))), root).replace(os.sep, '/')
                count += 1
                rank = layer_of(target)
                if rank is None:
                    problems.append(f'{src}: includes {target}, which is in no layer')
                elif rank > src_rank:
                    problems.append(f'{src} ({LAYERS[src_rank][0]}) includes {target} ({LAYERS[rank][0]}): '
                                    'an include may not point up the layers')
    for p in problems:
        print(p)
    print(f'{count} includes checked, {len(problems)} problems')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
