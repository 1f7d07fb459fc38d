#!/bin/busybox sh
# The lab guest's init: mount what dtrace needs, run the platform tests, report each line of
# their TAP output to the host, power off. Lines go through /dev/kmsg: the kernel's console
# reaches the host on every platform (under Xen, what init writes to its own console may not).
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin HOME=/root TERM=dumb LANG=C
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tracefs nodev /sys/kernel/tracing
mkdir -p /root /etc
echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd
echo 'root:x:0:' > /etc/group
hostname lab

report() { echo "<2>LAB: $*" > /dev/kmsg; }

report "BOOTED $(uname -r) $(nproc) CPUs"
cd /project
# DTRACE_LAB (the platform's name) comes from the kernel command line
node --test --test-reporter=tap --test-concurrency=1 build/test/platform/ 2>&1 |
while IFS= read -r line; do report "$line"; done
# figures, not tests: fbt's costs on this platform
BENCH_RUNS=3 node build/bench/fbt.js 2>&1 | while IFS= read -r line; do report "$line"; done
report "LEFT instances=$(ls /sys/kernel/tracing/instances | tr '\n' ' ') kprobes=$(grep -c dtrace_ts_ /sys/kernel/tracing/kprobe_events)"
report "DONE"
sync
reboot -f
