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
# loopback, for the tcp tests
ip link set lo up
# the kernel's modules the tests need (loop devices for io), where this kernel has them as modules
for m in /lab/modules/*.ko; do [ -e "$m" ] && insmod "$m"; done

report() { echo "<2>LAB: $*" > /dev/kmsg; }

report "BOOTED $(uname -r) $(uname -v) $(nproc) CPUs"
cd /project
# DTRACE_LAB (the platform's name) comes from the kernel command line
node --test --test-reporter=tap --test-concurrency=1 build/test/platform/ 2>&1 |
while IFS= read -r line; do report "$line"; done
# figures, not tests: fbt's costs on this platform, in their own budget (LAB_BENCH seconds) or
# what the tests left of the platform's time (LAB_DEADLINE, seconds of uptime), whichever is
# less (both from the kernel command line), so a slow platform cuts its benchmarks short rather
# than the run: a benchmark never fails the lab
uptime_s=$(cut -d. -f1 /proc/uptime)
BENCH_BUDGET=$(( ${LAB_DEADLINE:-600} - uptime_s ))
[ "$BENCH_BUDGET" -gt "${LAB_BENCH:-120}" ] && BENCH_BUDGET=${LAB_BENCH:-120}
if [ "$BENCH_BUDGET" -lt 30 ]; then
	report "BENCH skipped: the tests took the platform's time (${uptime_s} s of ${LAB_DEADLINE:-600} s)"
else
	( BENCH_RUNS=3 timeout -s TERM "$BENCH_BUDGET" node build/bench/fbt.js 2>&1; echo "BENCH-STATUS $?" ) |
	while IFS= read -r line; do
		case "$line" in
		"BENCH-STATUS 0") ;;
		"BENCH-STATUS "*) report "BENCH cut short after ${BENCH_BUDGET} s (its own budget; the tests above are the run's result)" ;;
		*) report "$line" ;;
		esac
	done
fi
# a dtrace a cut-short benchmark left running ends the way a user ends one (it cleans up)
if pidof dtrace >/dev/null; then
	killall -INT dtrace
	i=0
	while pidof dtrace >/dev/null && [ $i -lt 30 ]; do sleep 1; i=$((i + 1)); done
fi
report "LEFT instances=$(ls /sys/kernel/tracing/instances | tr '\n' ' ') kprobes=$(grep -c dtrace_ts_ /sys/kernel/tracing/kprobe_events)"
report "DONE"
sync
reboot -f
