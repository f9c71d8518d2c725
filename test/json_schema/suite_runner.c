/*-------------------------------------------------------------------------
 *
 * suite_runner.c
 *		Run the official JSON-Schema-Test-Suite against the validator
 *
 * Usage: suite_runner TESTS_DIR DRAFT [CLAIMED_FILE] [-v]
 *
 * Runs every top-level keyword file of TESTS_DIR/DRAFT (not "optional/"),
 * prints one line per file and a total, and exits with status 1 if any
 * test of a file claimed in CLAIMED_FILE (default "claimed.txt") fails.
 * Each test is checked twice: with an error list (the result must agree
 * with the presence of errors) and in fast mode without one.  The suite's
 * remote documents (TESTS_DIR/../remotes, http://localhost:1234/...) are
 * given to the validator through its load hook.
 *
 * CLAIMED_FILE lines (blank lines and "#" comments are ignored):
 *		DRAFT FILE claimed
 *		DRAFT FILE excluded: REASON
 *		DRAFT FILE [CASE DESCRIPTION] excluded: REASON
 * The last form leaves one test case of a claimed file out.
 *
 * test/json_schema/suite_runner.c
 *
 *-------------------------------------------------------------------------
 */
#include <dirent.h>
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_schema.h"
#include "json_schema_posix_regex.h"

#define MAX_ENTRIES 512
#define LINE_LEN 1024

/* One line of the claimed-files list. */
typedef struct claim_entry
{
	char		draft[64];
	char		file[128];
	char		case_desc[512];	/* empty for whole-file entries */
	bool		claimed;
	char		reason[512];
} claim_entry;

static claim_entry claims[MAX_ENTRIES];
static char remotes_dir[4096];
static int	nclaims = 0;
static bool verbose = false;

/* Print details of failures? (only for claimed files, unless verbose) */
static bool show_failures = false;

/* Remove trailing whitespace in place. */
static void
chomp(char *s)
{
	size_t		n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
					 s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

/* Parse one non-comment line of the claimed list into "e". */
static bool
parse_claim(char *line, claim_entry *e)
{
	char	   *p = line;
	char	   *status;

	memset(e, 0, sizeof(*e));
	if (sscanf(p, "%63s %127s", e->draft, e->file) != 2)
		return false;
	p = strstr(p, e->file) + strlen(e->file);
	while (*p == ' ')
		p++;
	if (*p == '[')
	{
		char	   *end = strchr(p, ']');

		if (end == NULL || (size_t) (end - p - 1) >= sizeof(e->case_desc))
			return false;
		memcpy(e->case_desc, p + 1, (size_t) (end - p - 1));
		p = end + 1;
		while (*p == ' ')
			p++;
	}
	status = p;
	if (strcmp(status, "claimed") == 0 && e->case_desc[0] == '\0')
		e->claimed = true;
	else if (strncmp(status, "excluded:", 9) == 0)
		snprintf(e->reason, sizeof(e->reason), "%s", status + 10);
	else
		return false;
	return true;
}

/* Load the claimed-files list. */
static bool
load_claims(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char		line[LINE_LEN];
	int			lineno = 0;

	if (f == NULL)
	{
		fprintf(stderr, "cannot open %s\n", path);
		return false;
	}
	while (fgets(line, sizeof(line), f))
	{
		lineno++;
		chomp(line);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (nclaims == MAX_ENTRIES || !parse_claim(line, &claims[nclaims]))
		{
			fprintf(stderr, "%s:%d: malformed line\n", path, lineno);
			fclose(f);
			return false;
		}
		nclaims++;
	}
	fclose(f);
	return true;
}

/* Find the whole-file entry for a file, or NULL. */
static const claim_entry *
file_claim(const char *draft, const char *file)
{
	int			i;

	for (i = 0; i < nclaims; i++)
		if (claims[i].case_desc[0] == '\0' && strcmp(claims[i].draft, draft) == 0 &&
			strcmp(claims[i].file, file) == 0)
			return &claims[i];
	return NULL;
}

/* Is test case "desc" of a file excluded on its own? */
static bool
case_excluded(const char *draft, const char *file, const char *desc)
{
	int			i;

	for (i = 0; i < nclaims; i++)
		if (claims[i].case_desc[0] != '\0' && strcmp(claims[i].draft, draft) == 0 &&
			strcmp(claims[i].file, file) == 0 && strcmp(claims[i].case_desc, desc) == 0)
			return true;
	return false;
}

/* Run one test; returns true if the validator agrees with the suite. */
static bool
run_test(const js_schema *schema, json_t *test, const char *where)
{
	bool		expected = json_is_true(json_object_get(test, "valid"));
	json_t	   *data = json_object_get(test, "data");
	js_error_list *errors = js_error_list_new(0);
	int			full = js_validate(schema, data, errors);
	int			fast = js_validate(schema, data, NULL);
	bool		ok;
	size_t		i;

	ok = (full == (expected ? 1 : 0)) && fast == full &&
		(js_error_count(errors) == 0) == (full == 1);
	if ((!ok && show_failures) || verbose)
	{
		printf("  %s %s: expected %s, got %d (fast %d), %zu errors\n",
			   ok ? "ok" : "FAIL", where, expected ? "valid" : "invalid",
			   full, fast, js_error_count(errors));
		for (i = 0; i < js_error_count(errors); i++)
		{
			const js_error *e = js_error_at(errors, i);

			printf("    at \"%s\" (%s): %s\n", e->instance_location,
				   e->keyword_location, e->message);
		}
	}
	js_error_list_free(errors);
	return ok;
}

/*
 * The validator's load hook: the suite's remote documents, served as if
 * from http://localhost:1234/.
 */
static json_t *
load_remote(void *arg, const char *uri)
{
	const char *prefix = "http://localhost:1234/";
	char		path[8192];

	(void) arg;
	if (strncmp(uri, prefix, strlen(prefix)) != 0 || strstr(uri, "..") != NULL)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", remotes_dir, uri + strlen(prefix));
	return json_load_file(path, 0, NULL);
}

/* Run one test case (a schema with its tests); updates the counters. */
static void
run_case(json_t *tcase, js_draft draft, const char *file, int *passed, int *total)
{
	const char *desc = json_string_value(json_object_get(tcase, "description"));
	json_t	   *tests = json_object_get(tcase, "tests");
	char	   *errmsg = NULL;
	js_compile_options opts;
	js_schema  *schema;
	size_t		i;
	json_t	   *test;

	memset(&opts, 0, sizeof(opts));
	opts.default_draft = draft;
	opts.regex = js_posix_regex_ops();
	opts.load = load_remote;
	schema = js_compile_opts(json_object_get(tcase, "schema"), &opts, &errmsg);

	if (schema == NULL)
	{
		if (show_failures || verbose)
			printf("  FAIL %s [%s]: cannot compile: %s\n", file, desc, errmsg);
		js_mem_free(errmsg);
		*total += (int) json_array_size(tests);
		return;
	}
	json_array_foreach(tests, i, test)
	{
		char		where[1024];

		snprintf(where, sizeof(where), "%s [%s] %s", file, desc,
				 json_string_value(json_object_get(test, "description")));
		if (run_test(schema, test, where))
			(*passed)++;
		(*total)++;
	}
	js_free(schema);
}

/* qsort comparator for file names. */
static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Run one keyword file; returns false if a claimed test failed. */
static bool
run_file(const char *dir, const char *draft, const char *file,
		 int *all_passed, int *all_total)
{
	char		path[8192];
	json_error_t jerr;
	json_t	   *cases;
	json_t	   *tcase;
	const claim_entry *claim = file_claim(draft, file);
	int			passed = 0;
	int			total = 0;
	int			skipped = 0;
	size_t		i;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	show_failures = claim && claim->claimed;
	cases = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (cases == NULL)
	{
		printf("%s %s: cannot load: %s\n", draft, file, jerr.text);
		return claim == NULL || !claim->claimed;
	}
	json_array_foreach(cases, i, tcase)
	{
		const char *desc = json_string_value(json_object_get(tcase, "description"));

		if (desc && case_excluded(draft, file, desc))
		{
			skipped += (int) json_array_size(json_object_get(tcase, "tests"));
			continue;
		}
		run_case(tcase, strcmp(draft, "draft7") == 0 ? JS_DRAFT_7 : JS_DRAFT_2020_12,
				 file, &passed, &total);
	}
	json_decref(cases);
	printf("%s %s: %d/%d passed", draft, file, passed, total);
	if (skipped)
		printf(", %d excluded", skipped);
	if (claim == NULL)
		printf(" (not listed)\n");
	else if (claim->claimed)
		printf(" (claimed)\n");
	else
		printf(" (excluded: %s)\n", claim->reason);
	*all_passed += passed;
	*all_total += total;
	return !(claim && claim->claimed && passed != total);
}

/* Entry point: see the file header. */
int
main(int argc, char **argv)
{
	char		dir[4096];
	const char *claimed_path = "claimed.txt";
	char	   *files[256];
	int			nfiles = 0;
	int			passed = 0;
	int			total = 0;
	bool		ok = true;
	DIR		   *d;
	struct dirent *de;
	int			i;

	setlocale(LC_ALL, "C.UTF-8");
	if (argc < 3)
	{
		fprintf(stderr, "usage: %s TESTS_DIR DRAFT [CLAIMED_FILE] [-v]\n", argv[0]);
		return 2;
	}
	for (i = 3; i < argc; i++)
	{
		if (strcmp(argv[i], "-v") == 0)
			verbose = true;
		else
			claimed_path = argv[i];
	}
	if (!load_claims(claimed_path))
		return 2;
	snprintf(dir, sizeof(dir), "%s/%s", argv[1], argv[2]);
	snprintf(remotes_dir, sizeof(remotes_dir), "%s/../remotes", argv[1]);
	if ((d = opendir(dir)) == NULL)
	{
		fprintf(stderr, "cannot open directory %s\n", dir);
		return 2;
	}
	while ((de = readdir(d)) != NULL && nfiles < 256)
	{
		size_t		n = strlen(de->d_name);

		if (n > 5 && strcmp(de->d_name + n - 5, ".json") == 0)
			files[nfiles++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(files, (size_t) nfiles, sizeof(char *), name_cmp);
	for (i = 0; i < nfiles; i++)
	{
		ok &= run_file(dir, argv[2], files[i], &passed, &total);
		free(files[i]);
	}
	printf("%s total: %d/%d passed%s\n", argv[2], passed, total,
		   ok ? "" : " -- FAILURES IN CLAIMED FILES");
	return ok ? 0 : 1;
}
