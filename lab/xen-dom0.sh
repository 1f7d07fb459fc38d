#!/bin/busybox sh
# dom0's init on the xen-domu platform: start Xen's toolstack (xenstored, xenconsoled with the
# guests' consoles logged to files), create the PV domU that runs the platform tests (lab/init.sh
# in its own initramfs), relay the domU's console to the host, power off when the domU is gone.
# The domU's "LAB:" lines are relayed as this kernel's own (through /dev/kmsg, as lab/init.sh
# reports), its other console lines as "DOMU:" lines, so a hang shows where the domU stopped.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/usr/sbin HOME=/root TERM=dumb LANG=C
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
# xenconsoled gives each guest console a pseudo-terminal (xl create waits for it)
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mkdir -p /run /var/run/xen /var/run/xenstored /var/lib/xen /var/lib/xenstored /var/log/xen/console /root
hostname dom0

report() { echo "<2>LAB: $*" > /dev/kmsg; }
quit() { sync; reboot -f; }
fail() {
	report "DOM0 failed: $*"
	[ -s /tmp/out ] && while IFS= read -r l; do report "DOM0   $l"; done < /tmp/out
	quit
}

# each step is reported before it runs, so a hang shows which; none may take more than 2 minutes
step() {
	what=$1; shift
	report "DOM0 $what"
	timeout -s KILL 120 "$@" > /tmp/out 2>&1 || fail "$what (exit $?)"
}
report "DOM0 $(uname -r), $(nproc) vCPU, $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB"
while read -r m options; do
	insmod "/lab/modules/$m.ko" $options > /tmp/out 2>&1 || fail "insmod $m $options"
done < /lab/modules/order
mount -t xenfs xenfs /proc/xen || fail 'mount xenfs'
X=/usr/lib/xen-4.17/bin
step xenstored $X/xenstored --pid-file /var/run/xen/xenstored.pid
i=0
while [ ! -s /var/run/xen/xenstored.pid ]; do
	[ $i -ge 60 ] && fail 'xenstored did not start'
	sleep 1; i=$((i + 1))
done
step xen-init-dom0 $X/xen-init-dom0
step xenconsoled $X/xenconsoled --log=guest --log-dir=/var/log/xen/console --pid-file=/var/run/xen/xenconsoled.pid
# xl stays (-F) until the domU is gone: the domU's own reboot (lab/init.sh ends with one) destroys
# it (on_reboot = "destroy"); nothing polls meanwhile, every cycle of the one CPU goes to the tests
report "DOM0 xl create"
$X/xl create -F /lab/domu.cfg > /tmp/out 2>&1 &
xl=$!
i=0
until $X/xl domid lab > /dev/null 2>&1; do
	kill -0 $xl 2>/dev/null || fail 'xl create /lab/domu.cfg'
	[ $i -ge 120 ] && fail 'xl create did not create the domU in 2 minutes'
	sleep 1; i=$((i + 1))
done
report "DOM0 created the domU: $($X/xl list -v lab | awk '$1 == "lab" { print "domid " $2 ", UUID " $7 }')"

cr=$(printf '\r')
tail -n +1 -F /var/log/xen/console/guest-lab.log 2>/dev/null |
while IFS= read -r line; do
	line=${line%"$cr"}
	case "$line" in
	*"LAB: "*) report "${line#*LAB: }" ;;
	"") ;;
	*) echo "<3>DOMU: $line" > /dev/kmsg ;;
	esac
done &
wait $xl
sleep 3
report "DOM0 the domU has ended"
quit
