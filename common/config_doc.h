/*
 * The documentation of every setting, written from the table in
 * config_keys.c: the example configuration (etc/maild.conf.in) and the
 * SETTINGS section of maild.conf(5) (doc/maild.conf.5.in). Both are
 * templates: defaults that configure chooses appear as @MAILD_...@ and
 * the build substitutes them. doc/config_doc writes them for `make
 * update-config-docs`; test_config checks the committed ones are current.
 */
#ifndef MAILD_CONFIG_DOC_H
#define MAILD_CONFIG_DOC_H

#include <stdio.h>

/* The lines around the generated part of the man page template. */
#define CONFIG_DOC_MAN_BEGIN \
	".\\\" BEGIN SETTINGS: written by `make update-config-docs'; do not edit"
#define CONFIG_DOC_MAN_END	".\\\" END SETTINGS"

/* Writes the whole example configuration file (template) to fp. */
void	config_doc_example(FILE *fp);
/* Writes the settings reference in mdoc, for between the markers. */
void	config_doc_man(FILE *fp);
/*
 * Copies the man page template in to out with everything between the
 * marker lines replaced by config_doc_man(). Returns 0, or -1 when the
 * markers are missing or out of order (out is then incomplete).
 */
int	config_doc_man_splice(FILE *in, FILE *out);

#endif
