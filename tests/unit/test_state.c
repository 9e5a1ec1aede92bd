/* Unit tests for state files: round trips, refusal of odd names, links and
 * unsafe directories, and the atomicity promise: a writer killed with
 * SIGKILL at random instants never leaves a torn file behind. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "state.h"

static char dir[] = "/tmp/hp-test-state-XXXXXX";

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_json_round_trip(void **state)
{
	json_t *in = json_pack("{s:s, s:i}", "ip", "203.0.113.7", "when", 42);
	json_t *out;

	assert_int_equal(state_save_json(dir, "entry", in), 0);
	out = state_load_json(dir, "entry");
	assert_non_null(out);
	assert_true(json_equal(in, out));
	json_decref(in);
	json_decref(out);
}

static void test_missing_and_invalid(void **state)
{
	char path[512];
	FILE *f;

	assert_null(state_load_json(dir, "nothing-here"));
	snprintf(path, sizeof(path), "%s/broken.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"ip\": ", f);
	fclose(f);
	assert_null(state_load_json(dir, "broken"));   /* ignored, not fatal */
	snprintf(path, sizeof(path), "%s/array.json", dir);
	f = fopen(path, "w");
	fputs("[1,2]", f);
	fclose(f);
	assert_null(state_load_json(dir, "array"));
}

static void test_refuses_path_names(void **state)
{
	json_t *o = json_object();

	assert_int_equal(state_save_json(dir, "../escape", o), -1);
	assert_int_equal(state_save_json(dir, ".hidden", o), -1);
	json_decref(o);
}

static void test_no_temp_files_left(void **state)
{
	char cmd[512];
	json_t *o = json_pack("{s:b}", "x", 1);

	for (int i = 0; i < 20; i++)
		assert_int_equal(state_save_json(dir, "many", o), 0);
	json_decref(o);
	snprintf(cmd, sizeof(cmd), "ls '%s' | grep -q tmp", dir);
	assert_int_not_equal(system(cmd), 0);
}

/* Two versions, each large enough that a write takes several syscalls'
 * worth of time; each is recognisable as whole. */
static char *version_text(char fill, size_t len)
{
	char *s = malloc(len + 1);

	memset(s, fill, len);
	s[0] = '<';
	s[len - 1] = '>';
	s[len] = '\0';
	return s;
}

static void test_sigkill_never_tears(void **state)
{
	const size_t len = 256 * 1024;
	char *a = version_text('a', len), *b = version_text('b', len);
	char path[512];
	int torn = 0, rounds = 60;

	snprintf(path, sizeof(path), "%s/atomic", dir);
	assert_int_equal(state_write_atomic(path, a, len), 0);
	srand((unsigned)time(NULL));
	for (int r = 0; r < rounds; r++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			for (unsigned i = 0;; i++)
				state_write_atomic(path, i % 2 ? a : b, len);
		}
		usleep((useconds_t)(rand() % 20000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		size_t got = 0;
		char *text = state_read_file(path, 2 * len, &got);
		assert_non_null(text);
		if (got != len || (memcmp(text, a, len) != 0 && memcmp(text, b, len) != 0))
			torn++;
		free(text);
	}
	assert_int_equal(torn, 0);
	/* the killed writers' temp files may remain; they never shadow the real one */
	free(a);
	free(b);
}

static void test_never_through_a_link(void **state)
{
	char target[300], link[300];
	json_t *in = json_pack("{s:s}", "ip", "203.0.113.8");

	assert_int_equal(state_save_json(dir, "real", in), 0);
	json_decref(in);
	snprintf(target, sizeof(target), "%s/real.json", dir);
	snprintf(link, sizeof(link), "%s/planted.json", dir);
	assert_int_equal(symlink(target, link), 0);
	assert_null(state_load_json(dir, "planted"));
	assert_null(state_read_file(link, 1024, NULL));
	snprintf(link, sizeof(link), "%s/fifo.json", dir);   /* would block a plain open */
	assert_int_equal(mkfifo(link, 0600), 0);
	assert_null(state_load_json(dir, "fifo"));
	/* the real file still reads, and a save replaces a link, never writes through it */
	assert_non_null(in = state_load_json(dir, "real"));
	assert_int_equal(state_save_json(dir, "planted", in), 0);
	json_decref(in);
	snprintf(link, sizeof(link), "%s/planted.json", dir);
	{
		struct stat st;
		assert_int_equal(lstat(link, &st), 0);
		assert_true(S_ISREG(st.st_mode));
	}
}

static void test_dir_check(void **state)
{
	char sub[300];

	snprintf(sub, sizeof(sub), "%s/sd", dir);
	assert_int_equal(mkdir(sub, 0750), 0);
	assert_int_equal(chmod(sub, 0750), 0);
	assert_int_equal(state_dir_check(sub, geteuid()), 0);
	assert_int_equal(chmod(sub, 0755), 0);
	assert_int_equal(state_dir_check(sub, geteuid()), 0);
	assert_int_equal(state_dir_check(sub, geteuid() + 1), -1);   /* not the daemon's */
	assert_int_equal(chmod(sub, 0757), 0);
	assert_int_equal(state_dir_check(sub, geteuid()), -1);       /* others may write */
	assert_int_equal(chmod(sub, 0770), 0);
	assert_int_equal(state_dir_check(sub, geteuid()), -1);       /* the group may write */
	assert_int_equal(chmod(sub, 01777), 0);
	assert_int_equal(state_dir_check(sub, geteuid()), -1);
	snprintf(sub, sizeof(sub), "%s/real.json", dir);
	assert_int_equal(state_dir_check(sub, geteuid()), -1);       /* not a directory */
	snprintf(sub, sizeof(sub), "%s/nothing-here", dir);
	assert_int_equal(state_dir_check(sub, geteuid()), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_missing_and_invalid),
		cmocka_unit_test(test_refuses_path_names),
		cmocka_unit_test(test_no_temp_files_left),
		cmocka_unit_test(test_sigkill_never_tears),
		cmocka_unit_test(test_never_through_a_link),
		cmocka_unit_test(test_dir_check),
	};
	return cmocka_run_group_tests_name("state", tests, setup, teardown);
}
