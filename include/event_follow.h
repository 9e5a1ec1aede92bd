/* event_follow.h - `homeportctl events`: control connections that receive
 * every event as one JSON line (event_json) as it is published, until the
 * client goes away. A client that does not read is dropped once
 * FOLLOW_BACKLOG_MAX bytes wait for it; the daemon never waits for one. */
#ifndef HP_EVENT_FOLLOW_H
#define HP_EVENT_FOLLOW_H

#define FOLLOW_MAX 16
#define FOLLOW_BACKLOG_MAX (256 * 1024)

/* Take over fd (non-blocking, connected): it first gets
 * {"ok":true,"message":"following events"}. -1 (fd closed) when full. */
int  event_follow_add(int fd);
void event_follow_fini(void);

#endif
