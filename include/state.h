/* state.h - persisted state under [daemon] state_dir, written atomically. */
#ifndef HP_STATE_H
#define HP_STATE_H

#include <stddef.h>
#include <jansson.h>

/* Write buf to path: temp file in the same directory, fsync, rename, fsync
 * the directory. A reader sees the old or the new file, never a torn one. */
int state_write_atomic(const char *path, const void *buf, size_t len);

/* Read a whole file of at most max bytes (NUL-terminated). NULL on error. */
char *state_read_file(const char *path, size_t max, size_t *len);

/* "<dir>/<name>.json" helpers. load returns NULL when missing or invalid
 * (invalid files are logged and ignored: state is a cache, never fatal). */
int state_save_json(const char *dir, const char *name, json_t *obj);
json_t *state_load_json(const char *dir, const char *name);

#endif
