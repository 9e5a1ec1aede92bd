/* upnp_sandbox.h - the confinement of homeport-upnp-helper (sandbox.c,
 * on the helpers' common sandbox.h): nothing open but the socket to the
 * daemon, a memory cap, and a seccomp filter that leaves the network
 * (IPv4, IPv6) and that socket only: no file can be opened, no program
 * run, no other process looked at, no Unix socket made. The daemon
 * already set NO_NEW_PRIVS before exec. */
#ifndef HP_UPNP_SANDBOX_H
#define HP_UPNP_SANDBOX_H

/* Confine this process; fd is the one descriptor kept open. 0 / -1. */
int upnp_sandbox_enter(int fd);

/* homeport-upnp-helper --check-sandbox: confine, then try what the filter
 * forbids and what it allows, one line each on stdout. Exit code 0 when
 * all came out as they should. */
int upnp_sandbox_check(void);

#endif
