/* log.c - levelled logging to stderr or syslog.
 *
 * Under systemd (JOURNAL_STREAM set) lines carry a "<N>" priority prefix so
 * journald keeps the level; on a terminal or into a file they carry a time
 * and a level word. Callers never pass secrets. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"

static int log_level = LOG_INFO;
static bool log_to_syslog;
static bool log_journal;

static const struct {
	const char *name;
	int level;
} level_names[] = {
	{ "error", LOG_ERR },
	{ "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE },
	{ "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
};

void log_init(int level, bool to_syslog)
{
	log_level = level;
	log_to_syslog = to_syslog;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
	if (to_syslog)
		openlog("homeportd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(int level)
{
	if (level < LOG_ERR)
		level = LOG_ERR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

const char *log_level_name(int level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (level_names[i].level == level)
			return level_names[i].name;
	return level < LOG_ERR ? "error" : "debug";
}

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(level_names[i].name, name) == 0)
			return level_names[i].level;
	return -1;
}

/* One line per message, whatever a caller passed on from the network: a
 * line break could forge a line (and its journald priority). */
static void one_line(char *msg)
{
	for (unsigned char *p = (unsigned char *)msg; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
}

static void __attribute__((format(printf, 2, 0)))
log_vmsg(int prio, const char *fmt, va_list ap, int errnum)
{
	char msg[1024];
	int n;

	if (prio > log_level)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n >= 0 && errnum && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(errnum));
	one_line(msg);
	if (log_to_syslog) {
		syslog(prio, "%s", msg);
		return;
	}
	if (log_journal) {
		fprintf(stderr, "<%d>%s\n", prio, msg);
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%02d:%02d:%02d.%03ld %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, log_level_name(prio), msg);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap, 0);
	va_end(ap);
}

#define LOG_FN(fname, prio, with_errno)                         \
	void fname(const char *fmt, ...)                        \
	{                                                       \
		int saved = errno;                              \
		va_list ap;                                     \
		va_start(ap, fmt);                              \
		log_vmsg(prio, fmt, ap, with_errno ? saved : 0); \
		va_end(ap);                                     \
		errno = saved;                                  \
	}

LOG_FN(log_err, LOG_ERR, 1)
LOG_FN(log_errx, LOG_ERR, 0)
LOG_FN(log_warn, LOG_WARNING, 1)
LOG_FN(log_warnx, LOG_WARNING, 0)
LOG_FN(log_notice, LOG_NOTICE, 0)
LOG_FN(log_info, LOG_INFO, 0)
LOG_FN(log_debug, LOG_DEBUG, 0)

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool log_limit_ok(struct log_limit *l, int prio, const char *what)
{
	int64_t now = mono_ms();

	if (!l->count || now - l->window_ms >= LOG_LIMIT_WINDOW_MS) {
		if (l->dropped)
			log_msg(prio, "%s: %u more in %d s not logged", what, l->dropped,
				LOG_LIMIT_WINDOW_MS / 1000);
		l->window_ms = now;
		l->count = l->dropped = 0;
	}
	if (l->count < LOG_LIMIT_BURST) {
		l->count++;
		return true;
	}
	l->dropped++;
	return false;
}
