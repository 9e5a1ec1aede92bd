/* fuzz_config.c - the config parser on arbitrary bytes: it must never crash,
 * leak or read out of bounds, and must either accept or report errors. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64];
	struct hp_config *cfg = NULL;
	struct config_errors errs = { 0 };
	int rc;

	if (fd < 0) {
		log_init(LOG_CRIT, false);
		fd = memfd_create("fuzz-config", 0);
		if (fd < 0)
			abort();
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = config_load(path, &cfg, &errs);
	if (rc == 0) {
		FILE *null = fopen("/dev/null", "w");
		if (errs.n != 0 || cfg == NULL)
			abort();
		config_dump(cfg, null);
		fclose(null);
		config_free(cfg);
	} else if (errs.n == 0) {
		abort();               /* a rejected config must say why */
	}
	config_errors_free(&errs);
	return 0;
}
