#!/bin/bash
# The whole job in a sandbox, on a fresh Debian 12 machine, as root:
# a real router (miniupnpd: UPnP IGD + NAT-PMP) and a real name server (BIND)
# in network namespaces, homeportd on a LAN host mapping two services (its own
# web server and a "camera" on another LAN host) and keeping two DNS names on
# the router's external IP. Shows `homeportctl status`, a connection from the
# "internet" reaching each service, `dig`, and DNS following a WAN IP change.
# Leaves nothing behind: namespaces, processes and files are removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (it creates network namespaces): sudo bash $0" >&2
	exit 1
fi
contrib/install-deps.sh
make -s -j2
exec /usr/bin/python3 - <<'PY'
import sys, time
sys.path.insert(0, "tests")
from bed import Bed

def step(text):
    print("\n\033[1m==> %s\033[0m" % text, flush=True)

with Bed(secure_mode=False) as bed:
    bed.start_echo("lan2", tcp=[554])
    step("a small internet: router %s (WAN %s), DNS %s, LAN host %s, camera %s"
         % (bed.gw_lan_ip, bed.gw_wan_ip, bed.dns_server, bed.lan_ip, bed.lan2_ip))
    conf = bed.gateway_conf("auto", lease="1h") + "\n" + bed.ddns_section(
        "home", "rfc2136", ["www." + bed.zone, "cam." + bed.zone], ttl=60)
    dropins = {
        "web.conf": bed.service_section("web", 8080, 18080),
        "camera.conf": bed.service_section("camera", 554, 10554, internal_host=bed.lan2_ip),
    }
    d = bed.start_daemon(conf, dropins=dropins)
    print(open(d.conf).read())
    for name, text in dropins.items():
        print("; conf.d/%s\n%s" % (name, text))

    step("homeportd maps both services and publishes the external IP")
    d.wait_for(lambda st: all(s["state"] == "mapped" for s in st["services"])
               and all(e["state"] == "ok" for e in st["ddns"]), timeout=30)
    print(d.ctl("status")[1])

    step("from the internet: connect to %s:18080 and :10554" % bed.gw_wan_ip)
    print("  18080/tcp ->", bed.tcp_probe(port=18080))
    print("  10554/tcp ->", bed.tcp_probe(port=10554))

    step("dig www.%s" % bed.zone)
    print("  ", bed.dig("www." + bed.zone, "A"))

    new_ip = bed.wan_ip.rsplit(".", 1)[0] + ".77"
    step("the ISP changes the router's WAN IP to %s" % new_ip)
    t0 = time.monotonic()
    bed.set_wan_ip(new_ip)
    while bed.dig("www." + bed.zone, "A") != [new_ip]:
        if time.monotonic() - t0 > 30:
            sys.exit("demo: DNS did not follow the new IP within 30 s")
        time.sleep(0.05)
    print("  dig answers %s, %.1f s after the change" % (new_ip, time.monotonic() - t0))
    print("  18080/tcp ->", bed.tcp_probe(ip=new_ip, port=18080))

    step("the router reboots and forgets every mapping")
    t0 = time.monotonic()
    bed.reboot_router()
    while bed.tcp_probe(ip=new_ip, port=18080) is None:
        if time.monotonic() - t0 > 30:
            sys.exit("demo: the mapping was not re-created within 30 s")
        time.sleep(0.2)
    print("  reachable again %.1f s after the reboot" % (time.monotonic() - t0))
    print(d.ctl("status")[1])

    step("homeportd stops and removes its mappings")
    print("  exit code", d.stop(), "- router table now:", bed.mappings())
print("\ndemo done; everything it created is gone.")
PY
