/* state.h - persisted state under [daemon] state_dir, written atomically. */
#ifndef HP_STATE_H
#define HP_STATE_H

#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

/* Write buf to path: temp file in the same directory, fsync, rename, fsync
 * the directory. A reader sees the old or the new file, never a torn one. */
int state_write_atomic(const char *path, const void *buf, size_t len);

/* Read a whole regular file of at most max bytes (NUL-terminated), never
 * through a symbolic link. NULL on error. */
char *state_read_file(const char *path, size_t max, size_t *len);

/* Start-up check: dir must be a directory owned by uid that neither its group
 * nor others may write (they could plant state or links). 0, or -1 logged. */
int state_dir_check(const char *dir, uid_t uid);

/* "<dir>/<name>.json" helpers. load returns NULL when missing or invalid
 * (invalid files are logged and ignored: state is a cache, never fatal). */
int state_save_json(const char *dir, const char *name, json_t *obj);
json_t *state_load_json(const char *dir, const char *name);

#endif
