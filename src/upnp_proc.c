/* upnp_proc.c - the UPnP helper process (upnp_proc.h), one of helper_proc.c's. */
#include "helper_proc.h"
#include "upnp_proc.h"
#include "upnp_wire.h"

static struct helper_proc P = {
	.name = UPNP_HELPER_NAME, .log_name = "upnp", .as_nobody = true,
};

void upnp_proc_prepare(void)
{
	helper_proc_prepare(&P);
}

void upnp_proc_set_path(const char *path)
{
	helper_proc_set_path(&P, path);
}

const char *upnp_proc_path(void)
{
	return P.path;
}

int upnp_proc_start(int *fd, pid_t *pid)
{
	return helper_proc_start(&P, fd, pid);
}

void upnp_proc_stop(pid_t pid)
{
	helper_proc_stop(&P, pid);
}
