/* log.h - levelled logging to stderr or syslog. Never pass a secret. */
#ifndef HP_LOG_H
#define HP_LOG_H

#include <stdbool.h>
#include <syslog.h>

#define HP_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* level is a syslog priority: LOG_ERR .. LOG_DEBUG. */
void log_init(int level, bool to_syslog);
void log_set_level(int level);
int  log_get_level(void);
const char *log_level_name(int level);
int  log_level_parse(const char *name);         /* -1 if unknown */

void log_msg(int prio, const char *fmt, ...) HP_PRINTF(2, 3);
void log_err(const char *fmt, ...) HP_PRINTF(1, 2);     /* appends strerror(errno) */
void log_errx(const char *fmt, ...) HP_PRINTF(1, 2);
void log_warn(const char *fmt, ...) HP_PRINTF(1, 2);    /* appends strerror(errno) */
void log_warnx(const char *fmt, ...) HP_PRINTF(1, 2);
void log_notice(const char *fmt, ...) HP_PRINTF(1, 2);
void log_info(const char *fmt, ...) HP_PRINTF(1, 2);
void log_debug(const char *fmt, ...) HP_PRINTF(1, 2);

/* For messages that a flood from the network could repeat (one per
 * packet): at most LOG_LIMIT_BURST per LOG_LIMIT_WINDOW_MS each. */
#define LOG_LIMIT_BURST 5
#define LOG_LIMIT_WINDOW_MS 10000
struct log_limit {
	long long window_ms;         /* start of the current window (monotonic) */
	unsigned count, dropped;
};
/* True when the caller may log now. The first message of a window that
 * follows dropped ones says how many (prio, what: the kind of message). */
bool log_limit_ok(struct log_limit *l, int prio, const char *what);

#endif
