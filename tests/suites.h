/* suites.h: every Check suite of tests/check_*.c, run by check_main.c. */
#ifndef SUITES_H
#define SUITES_H

#include <check.h>

Suite *session_suite(void);

#endif
