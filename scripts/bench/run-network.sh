#!/bin/bash
# One `apt-get update && apt-get install python3` RUN as a runc container with kiln's spec, on the host's network or
# in a private network namespace given outbound access by slirp4netns (as kiln's default RUN network is made).
#   scripts/bench/run-network.sh host|slirp ROOTFS
# ROOTFS: a Debian rootfs, e.g. from `debootstrap --variant=minbase bookworm DIR http://deb.debian.org/debian`
# (needs the Debian mirror). Prints the RUN's wall time; alternate the two modes over several rounds.
set -e
here=$(cd "$(dirname "$0")" && pwd)
rootfs=${2:?usage: run-network.sh host|slirp ROOTFS}
mode=$1
B=$(mktemp -d /var/tmp/kiln-netbench.XXXXXX)
cp -a --reflink=auto "$rootfs" $B/rootfs
if [ $mode = slirp ]; then
  unshare --net sleep 1000 & HP=$!
  sleep 0.2
  slirp4netns --configure --mtu=65520 --disable-host-loopback $HP tap0 >/dev/null 2>&1 & SP=$!
  sleep 0.5
  echo "nameserver 10.0.2.3" > $B/resolv.conf
else
  cp /etc/resolv.conf $B/resolv.conf
fi
cd $B && "$here/../../node_modules/.bin/bun" "$here/run-network-spec.ts" $B/rootfs $mode /proc/${HP:-0}/ns/net $B/resolv.conf $B/config.json
s=$(date +%s.%N)
runc --root $B/state run --bundle $B nb-$mode-$$ 
e=$(date +%s.%N)
echo "$mode: $(echo "$e - $s" | bc) s"
if [ $mode = slirp ]; then kill $SP $HP; fi
rm -rf $B
