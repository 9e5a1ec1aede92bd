/* ev.c - the event loop: poll(2) over registered fds, one-shot monotonic
 * timers, signals through signalfd. Small on purpose: the daemon watches a
 * few dozen fds and timers at most, so linear scans beat a heap in clarity. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "homeport.h"
#include "log.h"
#include "util.h"

struct watch {
	int fd;
	short events;
	ev_fd_cb cb;
	void *arg;
	uint64_t gen;        /* tells a re-used fd number from the old watch */
	bool dead;
};

struct ev_timer {
	ev_timer_cb cb;
	void *arg;
	int64_t due;
	uint64_t armseq;     /* arm order: a timer re-armed for 0 ms runs next pass */
	bool armed;
};

struct sigwatch {
	int signo;
	ev_signal_cb cb;
	void *arg;
};

static struct watch *watches;
static size_t n_watches, cap_watches;
static struct ev_timer **timers;
static size_t n_timers, cap_timers;
static struct sigwatch sigwatches[16];
static size_t n_sigwatches;
static sigset_t sigmask_all;
static int sig_fd = -1;
static uint64_t next_gen = 1, next_armseq = 1;
static bool stop_requested;

int64_t ev_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct watch *watch_find(int fd)
{
	for (size_t i = 0; i < n_watches; i++)
		if (watches[i].fd == fd && !watches[i].dead)
			return &watches[i];
	return NULL;
}

int ev_fd_add(int fd, short events, ev_fd_cb cb, void *arg)
{
	if (fd < 0 || watch_find(fd)) {
		errno = EEXIST;
		return -1;
	}
	if (n_watches == cap_watches) {
		cap_watches = cap_watches ? cap_watches * 2 : 16;
		watches = xrealloc(watches, cap_watches, sizeof(*watches));
	}
	watches[n_watches++] = (struct watch){ fd, events, cb, arg, next_gen++, false };
	return 0;
}

int ev_fd_set_events(int fd, short events)
{
	struct watch *w = watch_find(fd);

	if (!w) {
		errno = ENOENT;
		return -1;
	}
	w->events = events;
	return 0;
}

void ev_fd_del(int fd)
{
	struct watch *w = watch_find(fd);

	if (w)
		w->dead = true;   /* compacted after dispatch: callers may be iterating */
}

static void watches_compact(void)
{
	size_t j = 0;

	for (size_t i = 0; i < n_watches; i++)
		if (!watches[i].dead)
			watches[j++] = watches[i];
	n_watches = j;
}

struct ev_timer *ev_timer_new(ev_timer_cb cb, void *arg)
{
	struct ev_timer *t = xcalloc(1, sizeof(*t));

	t->cb = cb;
	t->arg = arg;
	if (n_timers == cap_timers) {
		cap_timers = cap_timers ? cap_timers * 2 : 32;
		timers = xrealloc(timers, cap_timers, sizeof(*timers));
	}
	timers[n_timers++] = t;
	return t;
}

void ev_timer_free(struct ev_timer *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < n_timers; i++) {
		if (timers[i] == t) {
			timers[i] = timers[--n_timers];
			break;
		}
	}
	free(t);
}

void ev_timer_arm(struct ev_timer *t, int64_t delay_ms)
{
	if (delay_ms < 0)
		delay_ms = 0;
	t->due = ev_now_ms() + delay_ms;
	t->armseq = next_armseq++;
	t->armed = true;
}

void ev_timer_disarm(struct ev_timer *t)
{
	if (t)
		t->armed = false;
}

bool ev_timer_armed(const struct ev_timer *t)
{
	return t && t->armed;
}

int64_t ev_timer_remaining_ms(const struct ev_timer *t)
{
	int64_t left;

	if (!t || !t->armed)
		return -1;
	left = t->due - ev_now_ms();
	return left > 0 ? left : 0;
}

/* Earliest armed timer, or -1 (infinite) for poll. Nothing else bounds the
 * wait: idle means asleep until the next timer (signals come through
 * signalfd), so only the int of poll() limits it (24 days). */
static int poll_timeout(void)
{
	int64_t now = ev_now_ms(), best = -1;

	for (size_t i = 0; i < n_timers; i++) {
		if (!timers[i]->armed)
			continue;
		int64_t left = timers[i]->due - now;
		if (left < 0)
			left = 0;
		if (best < 0 || left < best)
			best = left;
	}
	if (best > INT_MAX)
		best = INT_MAX;
	return (int)best;
}

int ev_wait_ms(void)
{
	return poll_timeout();
}

/* Fire every timer due now that was armed before this pass began; a timer
 * re-armed from its callback waits for the next pass, so it cannot starve
 * the fds. Timers due at the same time run in the order they were armed
 * (a request queued before a state write leaves before it). */
static void timers_run(void)
{
	uint64_t pass = next_armseq;
	int64_t now = ev_now_ms();

	for (;;) {
		struct ev_timer *due = NULL;

		for (size_t i = 0; i < n_timers; i++) {
			struct ev_timer *t = timers[i];
			if (t->armed && t->due <= now && t->armseq < pass &&
			    (!due || t->due < due->due ||
			     (t->due == due->due && t->armseq < due->armseq)))
				due = t;
		}
		if (!due)
			return;
		due->armed = false;
		due->cb(due->arg);
	}
}

static void signals_read(int fd, short revents, void *arg)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		for (size_t i = 0; i < n_sigwatches; i++)
			if (sigwatches[i].signo == (int)si.ssi_signo)
				sigwatches[i].cb((int)si.ssi_signo, sigwatches[i].arg);
	}
}

int ev_signal(int signo, ev_signal_cb cb, void *arg)
{
	if (n_sigwatches == HP_ARRAY_LEN(sigwatches))
		return -1;
	sigaddset(&sigmask_all, signo);
	if (sigprocmask(SIG_BLOCK, &sigmask_all, NULL) < 0)
		return -1;
	if (signalfd(sig_fd, &sigmask_all, SFD_NONBLOCK | SFD_CLOEXEC) < 0)
		return -1;
	sigwatches[n_sigwatches++] = (struct sigwatch){ signo, cb, arg };
	return 0;
}

int ev_init(void)
{
	sigemptyset(&sigmask_all);
	sig_fd = signalfd(-1, &sigmask_all, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sig_fd < 0) {
		log_err("signalfd");
		return -1;
	}
	stop_requested = false;
	return ev_fd_add(sig_fd, POLLIN, signals_read, NULL);
}

void ev_fini(void)
{
	if (sig_fd >= 0) {
		close(sig_fd);
		sig_fd = -1;
	}
	if (n_sigwatches)
		sigprocmask(SIG_UNBLOCK, &sigmask_all, NULL);
	n_sigwatches = 0;
	for (size_t i = 0; i < n_timers; i++)
		free(timers[i]);
	free(timers);
	timers = NULL;
	n_timers = cap_timers = 0;
	free(watches);
	watches = NULL;
	n_watches = cap_watches = 0;
}

void ev_break(void)
{
	stop_requested = true;
}

static int ev_once(void)
{
	size_t n = n_watches;
	struct pollfd *pfds = xcalloc(n ? n : 1, sizeof(*pfds));
	uint64_t *gens = xcalloc(n ? n : 1, sizeof(*gens));
	int rc;

	for (size_t i = 0; i < n; i++) {
		pfds[i] = (struct pollfd){ .fd = watches[i].fd, .events = watches[i].events };
		gens[i] = watches[i].gen;
	}
	rc = poll(pfds, n, poll_timeout());
	if (rc < 0 && errno != EINTR) {
		log_err("poll");
		goto out;
	}
	rc = 0;
	timers_run();
	for (size_t i = 0; i < n && !stop_requested; i++) {
		if (!pfds[i].revents)
			continue;
		struct watch *w = watch_find(pfds[i].fd);
		if (w && w->gen == gens[i])
			w->cb(w->fd, pfds[i].revents, w->arg);
	}
	watches_compact();
out:
	free(pfds);
	free(gens);
	return rc;
}

int ev_run(void)
{
	stop_requested = false;
	while (!stop_requested)
		if (ev_once() < 0)
			return -1;
	return 0;
}
