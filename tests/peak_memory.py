"""Peak memory of processes that tests start."""

#: A Python expression for the running process's own peak resident memory, in bytes, for scripts that tests
#: start. Not getrusage's ru_maxrss: Linux carries it across fork and exec, so every child of a large pytest
#: process would report the parent's peak.
PEAK_BYTES = 'next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) * 1024'
