#!/usr/bin/env python3
"""check_compile_fail.py SOURCE -- COMPILER [FLAGS...]

Compiles SOURCE and succeeds only if compilation FAILS and the compiler's output
contains the text on the source's `// expect: <text>` line. A file that compiles, or
fails for another reason, is a test failure: the check cannot pass vacuously.
"""
import subprocess
import sys

source = sys.argv[1]
assert sys.argv[2] == "--"
command = sys.argv[3:] + ["-fsyntax-only", source]
expect = None
for line in open(source, encoding="utf-8"):
    if line.startswith("// expect:"):
        expect = line[len("// expect:"):].strip()
if not expect:
    sys.exit(f"{source}: no '// expect:' line")
result = subprocess.run(command, capture_output=True, text=True)
output = result.stdout + result.stderr
if result.returncode == 0:
    sys.exit(f"{source}: compiled, but it must not")
if expect not in output:
    print(output[-4000:])
    sys.exit(f"{source}: failed to compile, but without the expected text: {expect!r}")
print(f"{source}: refused as expected ({expect!r})")
