/* secret.h - reading secret files (the *_file keys of homeport.conf(5)).
 *
 * A secret file holds the secret alone; white space around it is dropped.
 * It must be a regular file that others cannot access at all (as ssh
 * treats keys), at most SECRET_MAX bytes. Buffers that held a secret are
 * wiped whole before they are freed. */
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
