/*
 * check_main.c: runs every Check suite that is linked in.  The exit status
 * is 0 only when no test failed (a failure count would wrap at 256).
 */
#include <stdlib.h>

#include "suites.h"

int main(void)
{
	Suite *(*const all[])(void) = {
		session_suite, data_suite, address_suite, store_suite,
		reply_suite, input_suite, users_suite, limits_suite,
		recipients_suite, fdio_suite,
	};
	SRunner *sr = NULL;
	int failed;

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (all[i] == NULL)
			continue;
		if (sr == NULL)
			sr = srunner_create(all[i]());
		else
			srunner_add_suite(sr, all[i]());
	}
	if (sr == NULL)
		return EXIT_FAILURE;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
