/* http_sandbox.h - the confinement of homeport-http-helper (sandbox.c, on
 * the helpers' common sandbox.h), entered at start, before libcurl and
 * OpenSSL are set up (they read their configuration confined): nothing
 * open but the socket to the daemon, a memory cap, and a seccomp filter
 * that leaves what an HTTPS request needs: Internet sockets, name resolution (reading
 * /etc/resolv.conf, /etc/hosts, nsswitch.conf; libcurl's resolver
 * threads), files opened read-only (CA bundles). No file can be written
 * or created, no process started (threads only), no program run, no
 * other process signalled or traced, no Unix socket connected. */
#ifndef HP_HTTP_SANDBOX_H
#define HP_HTTP_SANDBOX_H

/* Confine this process; fd is the one descriptor kept open. 0 / -1. */
int http_sandbox_enter(int fd);

/* homeport-http-helper --check-sandbox: confine, then try what the filter
 * forbids and what it allows, one line each on stdout. Exit code 0 when
 * all came out as they should. */
int http_sandbox_check(void);

#endif
