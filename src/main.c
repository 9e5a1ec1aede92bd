/* main.c - homeportd: options, start-up and shut-down order, reload,
 * systemd notification, and the one event loop. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr6.h"
#include "config.h"
#include "control.h"
#include "ddns.h"
#include "ev.h"
#include "event.h"
#include "gateway.h"
#include "helper_proc.h"
#include "gw_backend.h"
#include "hook.h"
#include "http.h"
#include "homeport.h"
#include "ipsource.h"
#include "log.h"
#include "mapping.h"
#include "pinhole.h"
#include "priv.h"
#include "probe.h"
#include "sdnotify.h"
#include "state.h"
#include "util.h"

#define SHUTDOWN_LIMIT_MS 4800    /* SPEC: exit within 5 s, router or not */
#define ONCE_LIMIT_MS 60000

struct options {
	const char *config;
	const char *pidfile;
	int verbosity;           /* -v minus -q */
	bool check, daemonize, once, probe, json, syslog;
};

static struct options opt = { .config = HP_DEFAULT_CONFIG };
static struct hp_config *cfg;
static struct priv_ids ids;       /* who we run as: fixed at start */
static struct ev_timer *shutdown_timer, *once_timer;
static int64_t once_deadline;
static int exit_code = HP_EXIT_OK;

static void usage(FILE *out)
{
	fprintf(out,
		"usage: homeportd [-c FILE] [-v|-q] [-D [--pidfile FILE]] [--syslog]\n"
		"       homeportd -n [-v] [-c FILE]        check the config (-nv: print it)\n"
		"       homeportd --once [-c FILE]         one pass, then exit\n"
		"       homeportd --probe [--json] [-c FILE]  diagnose the gateway\n"
		"       homeportd --version | --help\n");
}

static int effective_level(const struct hp_config *c)
{
	int level = (c ? c->daemon.log_level : LOG_INFO) + opt.verbosity;

	return level < LOG_ERR ? LOG_ERR : level > LOG_DEBUG ? LOG_DEBUG : level;
}

static int parse_options(int argc, char **argv)
{
	enum { OPT_PIDFILE = 256, OPT_ONCE, OPT_PROBE, OPT_JSON, OPT_VERSION, OPT_SYSLOG };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "daemon", no_argument, NULL, 'D' },
		{ "pidfile", required_argument, NULL, OPT_PIDFILE },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "probe", no_argument, NULL, OPT_PROBE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "syslog", no_argument, NULL, OPT_SYSLOG },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:nDvqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': opt.config = optarg; break;
		case 'n': opt.check = true; break;
		case 'D': opt.daemonize = true; break;
		case OPT_PIDFILE: opt.pidfile = optarg; break;
		case OPT_ONCE: opt.once = true; break;
		case OPT_PROBE: opt.probe = true; break;
		case OPT_JSON: opt.json = true; break;
		case OPT_SYSLOG: opt.syslog = true; break;
		case 'v': opt.verbosity++; break;
		case 'q': opt.verbosity--; break;
		case OPT_VERSION:
			printf("homeportd %s\n", HP_VERSION);
			exit(HP_EXIT_OK);
		case 'h':
			usage(stdout);
			exit(HP_EXIT_OK);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "homeportd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	if (opt.check + opt.once + opt.probe > 1 || (opt.json && !opt.probe) ||
	    (opt.pidfile && !opt.daemonize)) {
		fprintf(stderr, "homeportd: conflicting options\n");
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Load and validate; on failure print every error and return NULL. */
static struct hp_config *load_config(bool to_log)
{
	struct config_errors errs = { 0 };
	struct hp_config *c = NULL;

	if (config_load(opt.config, &c, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++) {
			if (to_log)
				log_errx("%s", errs.msgs[i]);
			else
				fprintf(stderr, "%s\n", errs.msgs[i]);
		}
		config_errors_free(&errs);
		return NULL;
	}
	config_errors_free(&errs);
	return c;
}

static char *join_errors(const struct config_errors *errs)
{
	size_t len = 1;
	char *text;

	for (size_t i = 0; i < errs->n; i++)
		len += strlen(errs->msgs[i]) + 1;
	text = xcalloc(1, len);
	for (size_t i = 0; i < errs->n; i++) {
		strcat(text, errs->msgs[i]);
		if (i + 1 < errs->n)
			strcat(text, "\n");
	}
	return text;
}

static bool str_differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

static bool restart_only_changed(const struct cfg_daemon *a, const struct cfg_daemon *b)
{
	return str_differ(a->socket, b->socket) || str_differ(a->state_dir, b->state_dir) ||
	       str_differ(a->user, b->user) || str_differ(a->control_group, b->control_group);
}

/* SIGHUP and "homeportctl reload": the new config is taken whole or not at all. */
static int reload(char **errors_out)
{
	struct config_errors errs = { 0 };
	struct hp_config *next = NULL, *old = cfg;

	sdnotify_sendf("RELOADING=1\nSTATUS=reloading %s", opt.config);
	log_info("reloading %s", opt.config);
	if (config_load(opt.config, &next, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			log_errx("%s", errs.msgs[i]);
		log_errx("reload rejected (%zu error%s): still running the previous configuration",
			 errs.n, errs.n == 1 ? "" : "s");
		if (errors_out)
			*errors_out = join_errors(&errs);
		config_errors_free(&errs);
		sdnotify_send("READY=1\nSTATUS=running (last reload rejected)");
		return -1;
	}
	if (restart_only_changed(&old->daemon, &next->daemon))
		log_warnx("socket, state_dir, user and control_group changes take effect at the "
			  "next restart");
	log_set_level(effective_level(next));
	cfg = next;
	addr6_apply_config(cfg);
	ddns_apply_config(cfg);
	gateway_apply_config(cfg);
	ipsource_apply_config(cfg);
	hook_apply_config(cfg);
	config_free(old);
	log_notice("configuration reloaded: %zu service%s, %zu DDNS entr%s",
		   cfg->n_services, cfg->n_services == 1 ? "" : "s",
		   cfg->n_ddns, cfg->n_ddns == 1 ? "y" : "ies");
	sdnotify_send("READY=1\nSTATUS=running");
	return 0;
}

static void on_sighup(int signo, void *arg)
{
	reload(NULL);
}

static void shutdown_done(void *arg)
{
	ev_break();
}

static void on_terminate(int signo, void *arg)
{
	if (ev_timer_armed(shutdown_timer)) {
		log_notice("second signal: exiting now");
		ev_break();
		return;
	}
	log_notice("signal %d: shutting down", signo);
	sdnotify_send("STOPPING=1");
	ev_timer_arm(shutdown_timer, SHUTDOWN_LIMIT_MS);
	ddns_shutdown();
	gateway_shutdown(shutdown_done, NULL);
}

static void on_shutdown_limit(void *arg)
{
	log_warnx("shutdown took too long: exiting anyway");
	ev_break();
}

/* 1 when path itself was created, 0 when it existed, -1 on error. */
static int mkdir_p(const char *path, mode_t mode)
{
	char *copy = xstrdup(path);
	int rc = 0;

	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) < 0 && errno != EEXIST)
			rc = -1;
		*p = '/';
	}
	if (rc == 0)
		rc = mkdir(copy, mode) == 0 ? 1 : errno == EEXIST ? 0 : -1;
	free(copy);
	return rc;
}

/* Directories we create as root belong to the user we are about to become. */
static int make_dir(const char *path, mode_t mode, const char *what)
{
	int made = mkdir_p(path, mode);

	if (made < 0) {
		log_err("cannot create %s %s", what, path);
		return -1;
	}
	return made ? priv_give(&ids, path, ids.gid) : 0;
}

static int prepare_dirs(void)
{
	char *sockdir = xstrdup(cfg->daemon.socket), *slash = strrchr(sockdir, '/');
	int rc = 0;

	if (make_dir(cfg->daemon.state_dir, 0750, "state directory") < 0)
		rc = -1;
	if (slash && slash != sockdir) {
		*slash = '\0';
		if (make_dir(sockdir, 0755, "socket directory") < 0)
			rc = -1;
	}
	free(sockdir);
	return rc;
}

static int write_pidfile(void)
{
	char buf[32];
	int fd, len;

	fd = open(opt.pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_err("cannot write pid file %s", opt.pidfile);
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)len) != len) {
		log_err("cannot write pid file %s", opt.pidfile);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* SysV style: detach from the terminal. The first process waits until the
 * daemon is ready (or has failed) and exits with its status, so that an init
 * script sees a daemon that could not start. */
static int ready_fd = -1;

static void daemon_ready(int status)
{
	unsigned char st = (unsigned char)status;

	if (ready_fd < 0)
		return;
	if (write(ready_fd, &st, 1) != 1)
		log_warn("cannot report readiness to the starting process");
	close(ready_fd);
	ready_fd = -1;
}

static int daemonize(void)
{
	int pipefd[2], devnull;
	pid_t pid;

	/* We move to "/": keep relative paths meaning what the user meant. */
	char *abs_config = opt.config[0] != '/' ? realpath(opt.config, NULL) : NULL;
	if (abs_config)
		opt.config = abs_config;      /* lives as long as the process */
	if (opt.pidfile && opt.pidfile[0] != '/') {
		char cwd[PATH_MAX], *abs_pid;
		if (getcwd(cwd, sizeof(cwd)) && asprintf(&abs_pid, "%s/%s", cwd, opt.pidfile) > 0)
			opt.pidfile = abs_pid;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		log_err("cannot detach");
		return -1;
	}
	if (pid > 0) {
		unsigned char st = HP_EXIT_FAIL;
		ssize_t n;
		close(pipefd[1]);
		do
			n = read(pipefd[0], &st, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? st : HP_EXIT_FAIL);   /* EOF: the daemon died early */
	}
	close(pipefd[0]);
	if (setsid() < 0 || (pid = fork()) < 0) {
		log_err("cannot detach");
		return -1;
	}
	if (pid > 0)
		_exit(0);                 /* never a session leader: no controlling tty */
	ready_fd = pipefd[1];
	if (chdir("/") < 0)
		log_warn("chdir /");
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
	return opt.pidfile ? write_pidfile() : 0;
}

static void print_once_summary(void)
{
	json_t *services = mapping_status_json(ipsource_ip()), *ddns = ddns_status_json();
	json_t *gw = gateway_status_json();
	json_t *item;
	size_t i;

	printf("gateway: %s, external IP %s\n", json_string_value(json_object_get(gw, "state")) ?: "?",
	       json_string_value(json_object_get(gw, "external_ip")) ?: "unknown");
	json_array_foreach(services, i, item) {
		const char *err = json_string_value(json_object_get(item, "error"));
		printf("service %s/%s: %s%s%s\n", json_string_value(json_object_get(item, "name")),
		       json_string_value(json_object_get(item, "protocol")),
		       json_string_value(json_object_get(item, "state")), err ? ": " : "", err ? err : "");
	}
	json_array_foreach(ddns, i, item) {
		const char *err = json_string_value(json_object_get(item, "error"));
		printf("ddns %s: %s%s%s\n", json_string_value(json_object_get(item, "name")),
		       json_string_value(json_object_get(item, "state")), err ? ": " : "", err ? err : "");
	}
	json_decref(services);
	json_decref(ddns);
	json_decref(gw);
}

static void once_check(void *arg)
{
	bool gw_ok = false, ddns_ok = false;
	bool done = gateway_once_done(&gw_ok) && ddns_once_done(&ddns_ok);

	if (!done && ev_now_ms() < once_deadline) {
		ev_timer_arm(once_timer, 100);
		return;
	}
	if (!done)
		log_warnx("--once: gave up waiting after %d s", ONCE_LIMIT_MS / 1000);
	exit_code = done && gw_ok && ddns_ok ? HP_EXIT_OK : HP_EXIT_FAIL;
	ev_break();
}

/* The one seed of drand48 (retry jitter), for every module. */
static void seed_random(void)
{
	long seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = (long)time(NULL) ^ (long)getpid();
	srand48(seed);
}

/* Every module in dependency order: the gateway protocols, the DDNS
 * engine, the mappings, the choice of the external IP source (which tells
 * the DDNS engine), then the gateway that drives the mappings and tells
 * the IP source what the router says. */
static int init_modules(void)
{
	static const struct ipsource_hooks ipsource_hooks = {
		.ip_changed = ddns_set_external_ip,
	};
	static const struct gateway_hooks gateway_hooks = {
		.ip_changed = ipsource_gateway_ip, .ip_disputed = ipsource_gateway_disputed,
	};

	if (gw_backends_init(cfg->daemon.state_dir) < 0) {
		log_errx("cannot set up the gateway protocols");
		return -1;
	}
	/* --once announces nothing: events are for a daemon that keeps watch. */
	if (!opt.once && (event_store_init(cfg->daemon.state_dir) < 0 || hook_init(cfg) < 0))
		return -1;
	/* Without netlink (or IPv6) the daemon still does IPv4. */
	if (cfg->gateway.ipv6 && addr6_init(cfg) < 0)
		log_warnx("ipv6: this host's address cannot be followed: no pinholes, no AAAA");
	if (ddns_init(cfg) < 0)
		return -1;
	if (mapping_init(cfg) < 0 || pinhole_init(cfg) < 0 ||
	    ipsource_init(cfg, &ipsource_hooks) < 0)
		return -1;
	return gateway_init(cfg, &gateway_hooks);
}

static void fini_modules(void)
{
	ddns_shutdown();
	gateway_fini();
	ipsource_fini();
	pinhole_fini();
	mapping_fini();
	gw_backends_fini();
	ddns_fini();
	addr6_fini();
	hook_fini();           /* before http_fini: it cancels its requests */
	event_store_fini();
	http_fini();           /* curl's timers live in the loop: before ev_fini */
	helper_proc_reap_all();   /* helpers stopped above, not reaped yet */
}

static int run_daemon(void)
{
	static const struct control_ops control_ops = { .reload = reload };
	int rc = HP_EXIT_FAIL;

	if (ev_init() < 0)
		return HP_EXIT_FAIL;
	signal(SIGPIPE, SIG_IGN);
	shutdown_timer = ev_timer_new(on_shutdown_limit, NULL);
	if (ev_signal(SIGTERM, on_terminate, NULL) < 0 || ev_signal(SIGINT, on_terminate, NULL) < 0 ||
	    ev_signal(SIGHUP, on_sighup, NULL) < 0) {
		log_err("cannot set up signals");
		goto out;
	}
	if (prepare_dirs() < 0)
		goto out;
	if (state_dir_check(cfg->daemon.state_dir, ids.uid) < 0) {
		rc = HP_EXIT_CONFIG;
		goto out;
	}
	if (!opt.once && control_init(cfg->daemon.socket, &control_ops, &ids) < 0) {
		rc = HP_EXIT_UNAVAILABLE;
		goto out;
	}
	/* Root was needed for the directories and the socket; nothing more. */
	if (priv_drop(&ids) < 0)
		goto out_control;
	if (init_modules() < 0) {
		fini_modules();
		goto out_control;
	}
	if (opt.once) {
		once_deadline = ev_now_ms() + ONCE_LIMIT_MS;
		once_timer = ev_timer_new(once_check, NULL);
		ev_timer_arm(once_timer, 100);
	} else {
		log_notice("homeportd %s started: %zu service%s, %zu DDNS entr%s", HP_VERSION,
			   cfg->n_services, cfg->n_services == 1 ? "" : "s",
			   cfg->n_ddns, cfg->n_ddns == 1 ? "y" : "ies");
		sdnotify_send("READY=1\nSTATUS=running");
		daemon_ready(HP_EXIT_OK);
	}
	if (ev_run() < 0)
		exit_code = HP_EXIT_FAIL;
	rc = exit_code;
	if (opt.once)
		print_once_summary();
	fini_modules();
out_control:
	if (!opt.once)
		control_fini();
out:
	ev_fini();
	return rc;
}

int main(int argc, char **argv)
{
	int rc;

	if (parse_options(argc, argv) < 0)
		return HP_EXIT_USAGE;
	cfg = load_config(false);
	if (!cfg)
		return HP_EXIT_CONFIG;
	if (opt.check) {
		if (opt.verbosity > 0)
			config_dump(cfg, stdout);
		config_free(cfg);
		return HP_EXIT_OK;
	}
	log_init(effective_level(cfg), opt.syslog || opt.daemonize);
	if (priv_resolve(&cfg->daemon, &ids) < 0) {
		config_free(cfg);
		return HP_EXIT_CONFIG;
	}
	seed_random();
	if (opt.probe) {
		rc = priv_drop(&ids) < 0 || gw_backends_init(NULL) < 0 ? HP_EXIT_FAIL :
		     probe_run(cfg, opt.json);
		gw_backends_fini();
		config_free(cfg);
		return rc;
	}
	if (opt.daemonize && daemonize() < 0) {
		daemon_ready(HP_EXIT_FAIL);
		config_free(cfg);
		return HP_EXIT_FAIL;
	}
	rc = run_daemon();
	daemon_ready(rc);          /* when it never got ready */
	if (opt.pidfile)
		unlink(opt.pidfile);
	config_free(cfg);
	log_info("exiting (%d)", rc);
	return rc;
}
