/* config_hook.h - [hook:NAME] sections, parsed for config.c. */
#ifndef HP_CONFIG_HOOK_H
#define HP_CONFIG_HOOK_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"

#define HOOK_TIMEOUT_DEF 30            /* seconds */

/* A new hook in cfg->hooks; returns its index. */
size_t config_hook_open(struct hp_config *cfg, const char *name, const char *file, int line);
/* One "key = value" of h, written at file:line (duplicates are config.c's). */
void config_hook_key(struct config_errors *errs, struct cfg_hook *h, const char *file,
		     int line, const char *key, const char *value);
/* Whole-section checks once the files are read; loads header_file. */
void config_hook_validate(struct config_errors *errs, const struct hp_config *cfg,
			  struct cfg_hook *h);
void config_hooks_free(struct hp_config *cfg);
void config_hooks_dump(const struct hp_config *cfg, FILE *out);   /* -nv */

/* exec: split s into words as a POSIX shell would ('single', "double"
 * quotes, backslashes) without running one: no expansion of any kind.
 * Characters a shell would act on (| & ; < > ( ) $ ` and a leading #)
 * are refused unless quoted, so nothing is silently taken literally.
 * 0 and a NULL-terminated *argv (config_free_args), or -1 and why. */
int  config_split_args(const char *s, char ***argv, char *why, size_t whylen);
void config_free_args(char **argv);
/* arg written so that config_split_args reads it back unchanged. */
void config_quote_arg(const char *arg, FILE *out);

#endif
