#!/bin/bash
# Golden configuration tests: every bad/NAME.conf must be rejected by
# `homeportd -n` with exit 78 and exactly the errors in bad/NAME.err; every
# good/NAME.conf must pass, print nothing without -v, and print exactly
# good/NAME.out with -nv. NAME.env, when present, holds environment
# assignments for that case. Run from the tree root:
#   tests/config/run.sh build/homeportd
# UPDATE=1 rewrites the expected files (review the diff before committing).
set -u
daemon=${1:-build/homeportd}
dir=tests/config
fail=0 n=0
# git does not keep permissions: secrets must be private, world.pass must not be.
chmod 0600 $dir/secrets/* $dir/creds/*
chmod 0644 $dir/secrets/world.pass
# Secret files that are not regular files, which git cannot hold: a FIFO
# without a writer (opening it must not hang) and a directory.
rm -rf $dir/secrets/fifo.headers $dir/secrets/dir.headers
mkfifo -m 0600 $dir/secrets/fifo.headers
mkdir -m 0700 $dir/secrets/dir.headers
trap 'rm -rf $dir/secrets/fifo.headers $dir/secrets/dir.headers' EXIT

run_case() {   # conf args... -> sets out, err, rc  (envf: NAME.env unless set)
	local conf=$1; shift
	local envf=${envf:-${conf%.conf}.env}
	local envs=()
	[ -f "$envf" ] && mapfile -t envs < "$envf"
	# (a hang is a failure too: exit 124)
	out=$(env "${envs[@]}" timeout 20 "$daemon" "$@" -c "$conf" 2>/tmp/hp-golden-err.$$)
	rc=$?
	err=$(cat /tmp/hp-golden-err.$$)
	# Paths resolved against the working directory are shown relative to it.
	out=${out//$PWD\//}
	err=${err//$PWD\//}
}

check() {      # name expected actual
	if [ "$2" != "$3" ]; then
		echo "FAIL $1"; diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/    /'
		fail=$((fail + 1))
	fi
}

for conf in $dir/bad/*.conf; do
	n=$((n + 1)); name=${conf%.conf}
	run_case "$conf" -n
	[ "${UPDATE:-0}" = 1 ] && printf '%s\n' "$err" > "$name.err"
	[ "$rc" = 78 ] || { echo "FAIL $conf: exit $rc, expected 78"; fail=$((fail + 1)); }
	check "$conf" "$(cat "$name.err")" "$err"
	[ -z "$out" ] || { echo "FAIL $conf: printed on stdout"; fail=$((fail + 1)); }
done
for conf in $dir/good/*.conf; do
	n=$((n + 1)); name=${conf%.conf}
	run_case "$conf" -n
	[ "$rc" = 0 ] && [ -z "$out$err" ] || { echo "FAIL $conf: -n exit $rc, output: $out$err"; fail=$((fail + 1)); }
	run_case "$conf" -nv
	[ "${UPDATE:-0}" = 1 ] && printf '%s\n' "$out" > "$name.out"
	[ "$rc" = 0 ] || { echo "FAIL $conf: -nv exit $rc: $err"; fail=$((fail + 1)); }
	check "$conf" "$(cat "$name.out")" "$out"
	# The effective config must itself be a valid config that reads back the same.
	# (written next to the original, so relative paths resolve the same way)
	re=$(dirname "$conf")/.reparse.conf
	# (minus include_dir: the drop-ins are already in it)
	grep -v '^include_dir' <<<"$out" > "$re"
	envf=$name.env run_case "$re" -n
	[ "$rc" = 0 ] || { echo "FAIL $conf: -nv output does not parse: $err"; fail=$((fail + 1)); }
	rm -f "$re"
	if grep -qE 'dynpass|cf-token-value|from-credentials|c2VjcmV0|hdr-|url-query-secret|url-userinfo-secret|not-a-secret-here|push-secret' <<<"$out"; then
		echo "FAIL $conf: a secret appears in -nv output"; fail=$((fail + 1))
	fi
done
# The shipped sample configuration and drop-ins must be valid as they are
# (the packaged user "homeport" exists only where the package made it).
n=$((n + 1))
getent passwd homeport >/dev/null && as_user= || as_user='s#^user *=.*#user = nobody#'
sed -e "s#^include_dir *=.*#include_dir = $PWD/etc/conf.d#" -e "$as_user" etc/homeport.conf \
	> /tmp/hp-golden-sample.$$.conf
envf=/dev/null run_case /tmp/hp-golden-sample.$$.conf -n
[ "$rc" = 0 ] || { echo "FAIL etc/homeport.conf with etc/conf.d: $err"; fail=$((fail + 1)); }
rm -f /tmp/hp-golden-err.$$ /tmp/hp-golden-sample.$$.conf
echo "golden config tests: $((n - fail)) of $n passed"
[ "$fail" = 0 ]
