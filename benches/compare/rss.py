"""Runs a command and appends `ZKINFER_RSS=<bytes>` (its peak resident set) to stderr."""
import os
import subprocess
import sys

p = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(p.pid, 0)
code = os.waitstatus_to_exitcode(status)
sys.stderr.write(f"\nZKINFER_RSS={usage.ru_maxrss * 1024}\n")
sys.exit(code)
