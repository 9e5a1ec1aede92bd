/* http_transfer.h - the HTTP helper's libcurl transfers
 * (src/http-helper/transfer.c), on the helper's own ev.c loop. */
#ifndef HP_HTTP_TRANSFER_H
#define HP_HTTP_TRANSFER_H

#include <stdbool.h>
#include <stdint.h>

#include "http.h"

/* Called from the loop when a transfer ends; resp lives during the call
 * (its host is NULL: the daemon knows the URL). */
typedef void (*transfer_done_cb)(uint64_t id, const struct http_response *resp);

int  transfer_init(transfer_done_cb done);   /* 0 / -1 (logged) */
void transfer_fini(void);                    /* drops every transfer */
/* 0: started; -1: curl refused the request (done is not called). */
int  transfer_start(uint64_t id, const struct http_request *req);
void transfer_cancel(uint64_t id);           /* unknown ids are fine */
bool transfer_idle(void);                    /* nothing in flight */

#endif
