/*
 * Shared scaffolding for the Check unit tests: one suite per module, run
 * in forked mode so that a crashing case fails alone. Failures print
 * "got ..., want ..." through the ck_assert_*_eq macros.
 */
#ifndef MAILD_UNIT_H
#define MAILD_UNIT_H

#include <check.h>
#include <stdlib.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

#define UNIT_MAIN(make_suite)						\
int									\
main(void)								\
{									\
	SRunner	*sr = srunner_create(make_suite());			\
	int	 failed;						\
									\
	srunner_run_all(sr, CK_NORMAL);					\
	failed = srunner_ntests_failed(sr);				\
	srunner_free(sr);						\
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;		\
}

#endif
