/* metrics.h - `homeportctl metrics`: the daemon's state in the Prometheus
 * text exposition format (version 0.0.4), every name prefixed homeport_. */
#ifndef HP_METRICS_H
#define HP_METRICS_H

/* The whole exposition, malloc'd. Built from the same objects as
 * `homeportctl status`, so the two always agree. */
char *metrics_text(void);

/* Label values as the format wants them: \ " and newline escaped. */
void metrics_escape(const char *in, char *out, size_t outlen);

#endif
