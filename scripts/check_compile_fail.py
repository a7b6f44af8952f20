#!/usr/bin/env python3
"""check_compile_fail.py SOURCE... -- COMPILER [FLAGS...]

Each SOURCE is a small program that must not compile; its `// expect: <text>` line names the
text the compiler's refusal must contain. The check succeeds only if every SOURCE is refused
with its own text: a program that compiles, or fails for another reason, is a failure, so the
check cannot pass vacuously.

The programs are compiled as one translation unit (each program's lines in a namespace of its
own, its #define and #include lines first): instantiating the library's templates is most of a
check's time, and one compilation pays it once for every program instead of once each. The
compiler keeps going after an error (-ferror-limit=0), so every program's refusal is in the
output; the expected texts differ, so one program's error cannot stand in for another's.
"""
import os
import re
import subprocess
import sys
import tempfile

split = sys.argv.index("--")
sources, command = sys.argv[1:split], sys.argv[split + 1:]
if not sources:
    sys.exit("no sources")

head, bodies, expects = [], [], {}
for source in sources:
    name = re.sub(r"\W", "_", os.path.splitext(os.path.basename(source))[0])
    body = []
    for line in open(source, encoding="utf-8"):
        if line.startswith("// expect:"):
            expects[source] = line[len("// expect:"):].strip()
            body.append("\n")  # blank lines keep the diagnostics' line numbers the file's own
        elif line.startswith(("#include", "#define")):
            if line not in head:
                head.append(line)
            body.append("\n")
        else:
            body.append(line)
    if not expects.get(source):
        sys.exit(f"{source}: no '// expect:' line")
    # `main` is an ordinary name inside a namespace; the programs' own names stay apart.
    bodies.append(f"namespace compile_fail_{name} {{\n#line 1 \"{source}\"\n{''.join(body)}}}\n")
# The #define lines (ENTIDB_NO_SODIUM) must precede every #include.
head.sort(key=lambda line: not line.startswith("#define"))

with tempfile.TemporaryDirectory() as scratch:
    unit = os.path.join(scratch, "compile_fail_all.cpp")
    with open(unit, "w", encoding="utf-8") as f:
        f.write("".join(head) + "\n" + "\n".join(bodies))
    result = subprocess.run(command + ["-fsyntax-only", "-ferror-limit=0", unit], capture_output=True, text=True)
output = result.stdout + result.stderr
if result.returncode == 0:
    sys.exit(f"{', '.join(sources)}: compiled, but they must not")
failed = [source for source in sources if expects[source] not in output]
for source in sources:
    if source not in failed:
        print(f"{source}: refused as expected ({expects[source]!r})")
if failed:
    print(output[-8000:])
    for source in failed:
        print(f"{source}: not refused with the expected text: {expects[source]!r}")
    sys.exit(1)
