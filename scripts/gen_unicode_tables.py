#!/usr/bin/env python3
"""Generates include/entidb/text/unicode_tables.hpp from the Unicode Character Database.

The tokenizer (include/entidb/text/tokenizer.hpp) needs, per code point:
  - its class for token boundaries: separator, word (letters and numbers), cjk (Han, Hiragana
    and Katakana letters and numbers, and U+30FC), mark (combining marks), diacritic (the marks
    removed with remove_diacritics: general category Mn and Script=Inherited, except the kana
    voicing marks U+3099 and U+309A), or ignorable (NFKC_Casefold maps it to nothing);
  - its canonical combining class (ccc), for canonical ordering and composition;
  - whether it is the second code point of some canonical composition (a quick test before
    the composition table is searched);
  - its mapping: NFD(NFKC_Casefold(c)), the full canonical decomposition of its NFKC_CF value,
    where that differs from c itself. Hangul syllables are left out: the tokenizer decomposes
    and composes them arithmetically.
and the canonical compositions (primary composites: canonical decompositions of two code
points, less Full_Composition_Exclusion).

Everything comes from the UCD files of Debian's unicode-data package (Unicode 15.0), under
/usr/share/unicode (or $UNICODE_DATA_DIR): UnicodeData.txt, DerivedNormalizationProps.txt,
Scripts.txt. The output is deterministic.

    gen_unicode_tables.py            write the header
    gen_unicode_tables.py --check    exit 1 if the committed header differs from a fresh one
"""
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = ROOT / "include" / "entidb" / "text" / "unicode_tables.hpp"
UCD = pathlib.Path(os.environ.get("UNICODE_DATA_DIR", "/usr/share/unicode"))
MAX_CP = 0x110000
PROP_SHIFT = 5  # code points per second-stage block: 32 (properties), 64 (mappings)
MAP_SHIFT = 6
# The tables cover U+0000..U+3FFFF; above, every code point is a separator without mapping,
# except U+E0000..U+E0FFF (tags, variation selectors supplement, reserved): all ignorable.
TABLE_LIMIT = 0x40000
IGNORABLE_FIRST, IGNORABLE_LAST = 0xE0000, 0xE0FFF

SEP, WORD, CJK, MARK, DIACRITIC, IGNORABLE = range(6)
CLASS_NAMES = ["separator", "word", "cjk", "mark", "diacritic", "ignorable"]

S_BASE, L_BASE, V_BASE, T_BASE = 0xAC00, 0x1100, 0x1161, 0x11A7
L_COUNT, V_COUNT, T_COUNT = 19, 21, 28
N_COUNT = V_COUNT * T_COUNT
S_COUNT = L_COUNT * N_COUNT


def ranges(path):
    """(first, last, fields) for each data line of a UCD file with 'a..b ; x ; y' lines."""
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [f.strip() for f in line.split(";")]
        cps = fields[0].split("..")
        first = int(cps[0], 16)
        last = int(cps[1], 16) if len(cps) > 1 else first
        yield first, last, fields[1:]


def load():
    gc = ["Cn"] * MAX_CP
    ccc = [0] * MAX_CP
    decomp = {}  # canonical decompositions only
    first = None
    for line in open(UCD / "UnicodeData.txt", encoding="utf-8"):
        f = line.rstrip("\n").split(";")
        cp = int(f[0], 16)
        if f[1].endswith(", First>"):
            first = cp
            continue
        lo = first if f[1].endswith(", Last>") else cp
        first = None
        for c in range(lo, cp + 1):
            gc[c] = f[2]
            ccc[c] = int(f[3])
        if f[5] and not f[5].startswith("<"):
            decomp[cp] = [int(x, 16) for x in f[5].split()]
    script = ["Unknown"] * MAX_CP
    for lo, hi, fields in ranges(UCD / "Scripts.txt"):
        for c in range(lo, hi + 1):
            script[c] = fields[0]
    nfkc_cf = {}
    exclusions = set()
    for lo, hi, fields in ranges(UCD / "DerivedNormalizationProps.txt"):
        if fields[0] == "NFKC_CF":
            value = [int(x, 16) for x in fields[1].split()] if len(fields) > 1 and fields[1] else []
            for c in range(lo, hi + 1):
                nfkc_cf[c] = value
        elif fields[0] == "Full_Composition_Exclusion":
            exclusions.update(range(lo, hi + 1))
    return gc, ccc, decomp, script, nfkc_cf, exclusions


def nfd(cps, decomp, ccc):
    out = []

    def put(c):
        if S_BASE <= c < S_BASE + S_COUNT:
            i = c - S_BASE
            out.append(L_BASE + i // N_COUNT)
            out.append(V_BASE + (i % N_COUNT) // T_COUNT)
            if i % T_COUNT:
                out.append(T_BASE + i % T_COUNT)
        elif c in decomp:
            for d in decomp[c]:
                put(d)
        else:
            out.append(c)

    for c in cps:
        put(c)
    # canonical ordering: a stable sort of each run of non-starters by ccc
    i = 0
    while i < len(out):
        if ccc[out[i]] == 0:
            i += 1
            continue
        j = i
        while j < len(out) and ccc[out[j]] != 0:
            j += 1
        out[i:j] = sorted(out[i:j], key=lambda c: ccc[c])
        i = j
    return out


def build():
    gc, ccc, decomp, script, nfkc_cf, exclusions = load()
    cjk_scripts = {"Han", "Hiragana", "Katakana"}
    cls = [SEP] * MAX_CP
    for c in range(MAX_CP):
        g = gc[c]
        if g[0] in "LN":
            cls[c] = CJK if script[c] in cjk_scripts else WORD
        elif g[0] == "M":
            cls[c] = DIACRITIC if g == "Mn" and script[c] == "Inherited" and c not in (0x3099, 0x309A) else MARK
    cls[0x30FC] = CJK  # KATAKANA-HIRAGANA PROLONGED SOUND MARK (Script=Common)

    mapping = {}
    for c in range(MAX_CP):
        if S_BASE <= c < S_BASE + S_COUNT:
            continue  # arithmetic
        d = nfd(nfkc_cf.get(c, [c]), decomp, ccc)
        if d != [c]:
            mapping[c] = d
            if not d:
                cls[c] = IGNORABLE
    # A mapping's code points map to themselves: the tokenizer maps once.
    for c, d in mapping.items():
        for x in d:
            assert x not in mapping and not (S_BASE <= x < S_BASE + S_COUNT), (hex(c), hex(x))

    compositions = {}
    for c, d in decomp.items():
        if len(d) == 2 and c not in exclusions:
            compositions[(d[0], d[1])] = c
    seconds = {b for (_, b) in compositions}
    seconds.update(range(V_BASE, V_BASE + V_COUNT))
    seconds.update(range(T_BASE + 1, T_BASE + T_COUNT))

    # The tokenizer keeps at most max_run_code_points code points of a run; a run longer than
    # that must normalise to more than max_token_bytes (256) UTF-8 bytes. Each composite
    # replaces at most `ratio` code points by itself, so bytes >= code points / ratio.
    def utf8_len(c):
        return 1 if c < 0x80 else 2 if c < 0x800 else 3 if c < 0x10000 else 4
    ratio = max(len(nfd([c], decomp, ccc)) / utf8_len(c) for c in set(compositions.values()))
    max_run = 1024
    assert ratio <= 1.5 and max_run / ratio > 256, ratio  # text/tokenizer.hpp states 1.5

    # props: bits 0-7 ccc, 8-10 class, 11 second of a composition
    props = [ccc[c] | (cls[c] << 8) | ((1 << 11) if c in seconds else 0) for c in range(MAX_CP)]
    # mapping ids: 0 none, else index+1 into map_index (offset << 5 | length); one id per
    # distinct mapping
    pool = []
    id_of = {}
    map_index = []
    map_id = [0] * MAX_CP
    for c in sorted(mapping):
        key = tuple(mapping[c])
        if key not in id_of:
            assert len(key) < 32 and len(pool) < (1 << 27)
            map_index.append(len(pool) << 5 | len(key))
            pool.extend(key)
            id_of[key] = len(map_index)
        map_id[c] = id_of[key]
    for c in range(TABLE_LIMIT, MAX_CP):
        inside = IGNORABLE_FIRST <= c <= IGNORABLE_LAST
        assert props[c] == (IGNORABLE << 8 if inside else 0), hex(c)
        assert map_id[c] == (id_of[()] if inside else 0), hex(c)
    comp_keys = sorted(compositions)
    return props, map_id, map_index, pool, comp_keys, compositions, max_run


def two_stage(values, shift):
    stage1 = []
    blocks = []
    seen = {}
    size = 1 << shift
    for i in range(0, TABLE_LIMIT, size):
        b = tuple(values[i:i + size])
        if b not in seen:
            seen[b] = len(blocks)
            blocks.append(b)
        stage1.append(seen[b])
    return stage1, blocks


def array(type_, name, values, per_line=24):
    lines = [f"inline constexpr {type_} {name}[{len(values)}] = {{"]
    for i in range(0, len(values), per_line):
        lines.append("    " + ",".join(str(v) for v in values[i:i + per_line]) + ",")
    lines.append("};")
    return "\n".join(lines)


def smallest_type(values):
    m = max(values)
    return "std::uint8_t" if m < 256 else "std::uint16_t" if m < 65536 else "std::uint32_t"


def generate():
    props, map_id, map_index, pool, comp_keys, compositions, max_run = build()
    p1, pb = two_stage(props, PROP_SHIFT)
    m1, mb = two_stage(map_id, MAP_SHIFT)
    flat = lambda blocks: [v for b in blocks for v in b]
    version = "15.0.0"
    readme = UCD / "ReadMe.txt"
    for line in open(readme, encoding="utf-8"):
        if "Version" in line and "of the Unicode Standard" in line:
            version = line.split("Version", 1)[1].split("of", 1)[0].strip()
            break
    parts = [f"""// entidb/text/unicode_tables.hpp — GENERATED by scripts/gen_unicode_tables.py: do not edit.
//
// The Unicode {version} data of the tokenizer (text/tokenizer.hpp), from the Unicode Character
// Database's UnicodeData.txt, DerivedNormalizationProps.txt and Scripts.txt. Regenerate with
//     python3 scripts/gen_unicode_tables.py
// (the unicode_tables test checks that this file is what the script writes). The script's
// docstring says what each table holds; text/unicode.hpp reads them (internal: namespace detail).
#pragma once

#include <cstddef>
#include <cstdint>

namespace entidb {{
inline namespace v1 {{
namespace detail {{
namespace unicode_data {{

inline constexpr const char* version = "{version}";
inline constexpr char32_t table_limit = {TABLE_LIMIT:#x};  // above: separators, but for
inline constexpr char32_t ignorable_first = {IGNORABLE_FIRST:#x};  // these, all ignorable
inline constexpr char32_t ignorable_last = {IGNORABLE_LAST:#x};
inline constexpr unsigned prop_shift = {PROP_SHIFT};
inline constexpr unsigned map_shift = {MAP_SHIFT};
inline constexpr std::size_t max_run_code_points = {max_run};

// Properties: bits 0-7 canonical combining class, 8-10 class ({", ".join(f"{i} {n}" for i, n in enumerate(CLASS_NAMES))}),
// 11 the second code point of some canonical composition.""",
             array(smallest_type(p1), "prop_stage1", p1),
             array("std::uint16_t", "prop_stage2", flat(pb)),
             "// Mappings NFD(NFKC_Casefold(c)) where they differ from c: an id (0: none) per code point,\n"
             "// map_index[id - 1] = pool offset << 5 | length.",
             array(smallest_type(m1), "map_stage1", m1),
             array(smallest_type(map_id), "map_stage2", flat(mb)),
             array("std::uint32_t", "map_index", map_index, 12),
             array("char32_t", "map_pool", pool, 16),
             "// Canonical compositions (primary composites), sorted by (first << 21 | second).",
             array("std::uint64_t", "composition_keys", [a << 21 | b for a, b in comp_keys], 8),
             array("std::uint32_t", "composition_values", [compositions[k] for k in comp_keys], 12),
             """
}  // namespace unicode_data
}  // namespace detail
}  // namespace v1
}  // namespace entidb
"""]
    return "\n".join(parts)


def main():
    missing = [f for f in ("UnicodeData.txt", "DerivedNormalizationProps.txt", "Scripts.txt") if not (UCD / f).exists()]
    if missing:
        print(f"{UCD}: no {', '.join(missing)}: install Debian's unicode-data (bash scripts/setup.sh base)",
              file=sys.stderr)
        return 1
    text = generate()
    if "--check" in sys.argv[1:]:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET.relative_to(ROOT)} is stale: run python3 scripts/gen_unicode_tables.py", file=sys.stderr)
            return 1
        print(f"{TARGET.relative_to(ROOT)} is up to date")
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
