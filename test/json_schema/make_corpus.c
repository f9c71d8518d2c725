/*-------------------------------------------------------------------------
 *
 * make_corpus.c
 *		Build a seed corpus for fuzz_json_schema from the test suite
 *
 * Usage: make_corpus TESTS_DIR OUT_DIR FILE...
 *
 * For every test of the named suite files (paths relative to TESTS_DIR,
 * e.g. draft2020-12/ref.json) writes OUT_DIR/seed-N containing the
 * control byte, the schema, a NUL byte and the test's data, in the layout
 * fuzz_json_schema.c expects.
 *
 * test/json_schema/make_corpus.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Write one seed file; returns 0 on success. */
static int
write_seed(const char *dir, int n, int draft7, json_t *schema, json_t *data)
{
	char		path[4096];
	char	   *s = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY);
	char	   *d = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
	FILE	   *f;
	int			rc = 1;

	snprintf(path, sizeof(path), "%s/seed-%d", dir, n);
	if (s && d && (f = fopen(path, "wb")) != NULL)
	{
		fputc(draft7 ? 1 : 0, f);
		fwrite(s, 1, strlen(s), f);
		fputc('\0', f);
		fwrite(d, 1, strlen(d), f);
		rc = fclose(f) != 0;
	}
	free(s);
	free(d);
	return rc;
}

/* Entry point: see the file header. */
int
main(int argc, char **argv)
{
	int			n = 0;
	int			i;

	if (argc < 4)
	{
		fprintf(stderr, "usage: %s TESTS_DIR OUT_DIR FILE...\n", argv[0]);
		return 2;
	}
	for (i = 3; i < argc; i++)
	{
		char		path[4096];
		json_error_t jerr;
		json_t	   *cases;
		json_t	   *tcase;
		size_t		c;

		snprintf(path, sizeof(path), "%s/%s", argv[1], argv[i]);
		cases = json_load_file(path, 0, &jerr);
		if (cases == NULL)
		{
			fprintf(stderr, "%s: %s\n", path, jerr.text);
			return 1;
		}
		json_array_foreach(cases, c, tcase)
		{
			json_t	   *test;
			size_t		t;

			json_array_foreach(json_object_get(tcase, "tests"), t, test)
			{
				if (write_seed(argv[2], n++, strncmp(argv[i], "draft7/", 7) == 0,
							   json_object_get(tcase, "schema"),
							   json_object_get(test, "data")) != 0)
				{
					fprintf(stderr, "cannot write seed %d\n", n);
					return 1;
				}
			}
		}
		json_decref(cases);
	}
	printf("%d seeds written to %s\n", n, argv[2]);
	return 0;
}
