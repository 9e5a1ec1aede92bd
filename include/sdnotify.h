/* sdnotify.h - tell systemd how the daemon is doing (READY=1, RELOADING=1,
 * STOPPING=1, STATUS=...): one datagram to $NOTIFY_SOCKET, the documented
 * sd_notify(3) protocol, without linking libsystemd (which would bring
 * libgcrypt, liblz4, liblzma, libzstd and libcap, ~1 MB resident). */
#ifndef HP_SDNOTIFY_H
#define HP_SDNOTIFY_H

/* Send text ("KEY=value" lines). 1 sent, 0 when $NOTIFY_SOCKET is unset
 * (not started by systemd), -1 on error (errno set). */
int sdnotify_send(const char *text);
int sdnotify_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
