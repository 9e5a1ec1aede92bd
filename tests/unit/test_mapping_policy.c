/* Unit tests for mapping.c's pure policy helpers: retry back-off (steps,
 * cap, jitter bounds), when a mapping is looked at again, and when a
 * router's description is ours. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mapping.h"

static void test_backoff_grows_then_caps(void **state)
{
	int64_t prev = 0;

	for (unsigned n = 1; n <= 7; n++) {
		int64_t d = mapping_backoff_ms(n, 0);
		assert_true(d > prev);
		prev = d;
	}
	assert_int_equal(mapping_backoff_ms(1, 0), 5000);
	assert_int_equal(mapping_backoff_ms(7, 0), 600000);
	assert_int_equal(mapping_backoff_ms(100, 0), 600000);
	assert_int_equal(mapping_backoff_ms(0, 0), 5000);
}

static void test_backoff_jitter_bounds(void **state)
{
	assert_int_equal(mapping_backoff_ms(3, 0.5), 30000 + 3000);
	assert_true(mapping_backoff_ms(7, 0.999) < 600000 * 12 / 10);
	/* out-of-range jitter is ignored, never negative or huge */
	assert_int_equal(mapping_backoff_ms(2, -1.0), 15000);
	assert_int_equal(mapping_backoff_ms(2, 7.0), 15000);
}

static void test_recheck(void **state)
{
	/* half the lease when that comes first */
	assert_int_equal(mapping_recheck_ms(600, 3600), 300000);
	/* check_interval when that comes first */
	assert_int_equal(mapping_recheck_ms(7200, 300), 300000);
	/* permanent: only check_interval */
	assert_int_equal(mapping_recheck_ms(0, 60), 60000);
	/* never a busy loop on a tiny lease, never 0 on a zero interval */
	assert_int_equal(mapping_recheck_ms(1, 60), 1000);
	assert_true(mapping_recheck_ms(0, 0) >= 1000);
}

static void test_state_names(void **state)
{
	assert_string_equal(mapping_state_name(MAP_PENDING), "pending");
	assert_string_equal(mapping_state_name(MAP_MAPPED), "mapped");
	assert_string_equal(mapping_state_name(MAP_CONFLICT), "conflict");
	assert_string_equal(mapping_state_name(MAP_REFUSED), "refused");
	assert_string_equal(mapping_state_name(MAP_FAILED), "failed");
	assert_string_equal(mapping_state_name((enum map_state)42), "?");
}

static void test_desc_matches(void **state)
{
	assert_true(mapping_desc_matches("homeport:web", "homeport:web"));
	/* a router that cut a long description */
	assert_true(mapping_desc_matches("homeport:web camera", "homeport:web"));
	assert_false(mapping_desc_matches("homeport:web", "homeport:web2"));
	assert_false(mapping_desc_matches("homeport:web", "by-hand"));
	assert_false(mapping_desc_matches("homeport:web", "Homeport:web"));
	/* an empty description proves nothing */
	assert_false(mapping_desc_matches("homeport:web", ""));
	assert_false(mapping_desc_matches(NULL, "homeport:web"));
	assert_false(mapping_desc_matches("homeport:web", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_grows_then_caps),
		cmocka_unit_test(test_backoff_jitter_bounds),
		cmocka_unit_test(test_recheck),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_desc_matches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
