/* ev.h - the one event loop: fd callbacks, monotonic timers, signals. */
#ifndef HP_EV_H
#define HP_EV_H

#include <stdbool.h>
#include <stdint.h>
#include <poll.h>

typedef void (*ev_fd_cb)(int fd, short revents, void *arg);
typedef void (*ev_timer_cb)(void *arg);
typedef void (*ev_signal_cb)(int signo, void *arg);

struct ev_timer;

int  ev_init(void);
void ev_fini(void);

/* Run until ev_break(); returns 0, or -1 on an unrecoverable poll error. */
int  ev_run(void);
void ev_break(void);

/* Watch fd for POLLIN/POLLOUT. One registration per fd; add on a watched fd fails. */
int  ev_fd_add(int fd, short events, ev_fd_cb cb, void *arg);
int  ev_fd_set_events(int fd, short events);
void ev_fd_del(int fd);

/* Timers are one-shot; re-arm from the callback for periodic work.
 * Safe to disarm/free any timer (also itself) from any callback. */
struct ev_timer *ev_timer_new(ev_timer_cb cb, void *arg);
void ev_timer_free(struct ev_timer *t);            /* NULL is fine */
void ev_timer_arm(struct ev_timer *t, int64_t delay_ms);
void ev_timer_disarm(struct ev_timer *t);
bool ev_timer_armed(const struct ev_timer *t);
int64_t ev_timer_remaining_ms(const struct ev_timer *t); /* -1 when not armed */

/* How long the loop would sleep now: until the earliest timer (ms), -1 when
 * none is armed. Nothing else wakes an idle loop. */
int ev_wait_ms(void);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t ev_now_ms(void);

/* Deliver signo through the loop (signalfd); the signal is blocked for the process. */
int ev_signal(int signo, ev_signal_cb cb, void *arg);

#endif
