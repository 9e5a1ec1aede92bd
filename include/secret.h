/* secret.h - reading secret files (the *_file keys of homeport.conf(5)).
 *
 * A secret file holds the secret alone; white space around it is dropped.
 * It must be a regular file that others cannot access at all (as ssh
 * treats keys), at most SECRET_MAX bytes. It is opened non-blocking, so a
 * FIFO or a device is refused instead of hanging the daemon. A symbolic
 * link is followed (secret stores and admins use them; O_NOFOLLOW would
 * refuse them) and the checks apply to the file it leads to, on the open
 * descriptor. Buffers that held a secret are wiped whole before they are
 * freed. */
#ifndef HP_SECRET_H
#define HP_SECRET_H

#include <stddef.h>

#define SECRET_MAX 65536

/* Where a *_file value points: a relative path is looked up in
 * $CREDENTIALS_DIRECTORY when that is set (systemd LoadCredential=), else
 * in base_dir. Returns a malloc'd path. */
char *secret_path(const char *path, const char *base_dir);

/* The secret in the file at path (malloc'd, exactly strlen + 1 bytes), or
 * NULL with a sentence in why that names the file (never its content). */
char *secret_load(const char *path, char *why, size_t len);

#endif
