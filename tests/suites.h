/*
 * suites.h: every Check suite of tests/check_*.c.  Declared weak, so that
 * check_main.c runs the suites that are linked in and a suite file can be
 * added without touching the runner.
 */
#ifndef SUITES_H
#define SUITES_H

#include <check.h>

#define SUITE_DECL(name) Suite *name(void) __attribute__((weak))
SUITE_DECL(session_suite);
SUITE_DECL(data_suite);
SUITE_DECL(address_suite);
SUITE_DECL(store_suite);
SUITE_DECL(reply_suite);
SUITE_DECL(input_suite);
SUITE_DECL(users_suite);
SUITE_DECL(limits_suite);
SUITE_DECL(recipients_suite);
SUITE_DECL(fdio_suite);

#endif
