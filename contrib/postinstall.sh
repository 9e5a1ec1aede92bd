#!/bin/sh
# After `make install` on the running system (not into a DESTDIR): create
# the homeport user and its directories, and let systemd see the new unit.
# Arguments: the installed sysusers.d and tmpfiles.d files. Idempotent.
set -eu
sysusers=$1 tmpfiles=$2
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers "$sysusers"
elif ! getent passwd homeport >/dev/null; then
	useradd --system --user-group --home-dir /var/lib/homeport --no-create-home \
		--shell /usr/sbin/nologin --comment "homeport daemon" homeport
fi
if command -v systemd-tmpfiles >/dev/null 2>&1; then
	systemd-tmpfiles --create "$tmpfiles"
else
	install -d -o homeport -g homeport -m 0750 /var/lib/homeport
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	echo "installed: systemctl enable --now homeportd"
else
	echo "installed: /etc/init.d/homeportd start (and enable it with update-rc.d or rc-update)"
fi
