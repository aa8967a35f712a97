/*
 * config_doc: writes the documentation templates from the settings table,
 * for `make update-config-docs` (a maintainer's tool; not installed).
 *
 *	config_doc example		the example config, etc/maild.conf.in
 *	config_doc man TEMPLATE		TEMPLATE with its SETTINGS part redone
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config_doc.h"

int
main(int argc, char **argv)
{
	FILE	*in;
	int	 rc;

	if (argc == 2 && strcmp(argv[1], "example") == 0) {
		config_doc_example(stdout);
		return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	if (argc == 3 && strcmp(argv[1], "man") == 0) {
		if ((in = fopen(argv[2], "r")) == NULL) {
			perror(argv[2]);
			return EXIT_FAILURE;
		}
		rc = config_doc_man_splice(in, stdout);
		fclose(in);
		if (rc == -1) {
			fprintf(stderr, "%s: the lines \"%s\" and \"%s\" are "
			    "missing\n", argv[2], CONFIG_DOC_MAN_BEGIN,
			    CONFIG_DOC_MAN_END);
			return EXIT_FAILURE;
		}
		return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	fprintf(stderr, "usage: config_doc example\n"
	    "       config_doc man TEMPLATE\n");
	return 2;
}
