/*-------------------------------------------------------------------------
 *
 * fuzz_json_schema.c
 *		libFuzzer target for the JSON Schema validator
 *
 * Input layout: one control byte, the schema JSON, a NUL byte (or, if
 * there is none, a newline), then the instance JSON.  Bit 0 of the control
 * byte selects the default dialect (draft 2020-12 or draft-07); the other
 * bits, if not zero, make the N-th allocation of the validator fail so
 * that out-of-memory paths are exercised too.
 *
 * Each input is compiled and validated three ways (fast, full error list,
 * error list limited to one entry); the three results must agree, and
 * every allocation made through the validator's hooks must be freed.
 *
 * test/json_schema/fuzz_json_schema.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_schema.h"
#include "json_schema_posix_regex.h"

static long live_allocations = 0;
static long fail_countdown = 0;
static int	failure_injected = 0;

/* Counting allocator that can be told to fail once. */
static void *
fuzz_alloc(size_t size)
{
	void	   *p;

	if (fail_countdown > 0 && --fail_countdown == 0)
	{
		failure_injected = 1;
		return NULL;
	}
	p = malloc(size);
	if (p)
		live_allocations++;
	return p;
}

/* Counterpart of fuzz_alloc(). */
static void
fuzz_free(void *p)
{
	live_allocations--;
	free(p);
}

/*
 * Regex hooks for fuzzing: glibc's regcomp is not what is being tested,
 * so long patterns and counted repetitions (which can blow up there) are
 * refused, and subjects containing "FAIL" simulate a matcher failure.
 */
static void *
fuzz_regex_compile(void *arg, const char *pattern, char **errmsg)
{
	const char *p;

	for (p = strchr(pattern, '\\'); p; p = strchr(p + 1, '\\'))
	{
		/* back-references can make glibc's matcher exponential */
		if (p[1] >= '0' && p[1] <= '9')
			break;
	}
	if (strlen(pattern) > 24 || strchr(pattern, '{') || p != NULL)
	{
		*errmsg = js_mem_strdup("pattern refused by the fuzzer");
		return NULL;
	}
	return js_posix_regex_ops()->compile(arg, pattern, errmsg);
}

/* See fuzz_regex_compile(). */
static int
fuzz_regex_match(void *arg, void *handle, const char *subject, size_t len,
				 char **errmsg)
{
	if (strstr(subject, "FAIL"))
	{
		*errmsg = js_mem_strdup("simulated matcher failure");
		return -1;
	}
	return js_posix_regex_ops()->match(arg, handle, subject, len, errmsg);
}

/* See fuzz_regex_compile(). */
static void
fuzz_regex_release(void *arg, void *handle)
{
	js_posix_regex_ops()->release(arg, handle);
}

static const js_regex_ops fuzz_regex = {
	fuzz_regex_compile, fuzz_regex_match, fuzz_regex_release, NULL
};

/* Validate with an error list of the given limit; checks the list. */
static int
validate_with_list(const js_schema *schema, json_t *instance, size_t max)
{
	js_error_list *errors = js_error_list_new(max);
	int			rc;
	size_t		i;

	if (errors == NULL)
		return -2;
	rc = js_validate(schema, instance, errors);
	for (i = 0; i < js_error_count(errors); i++)
	{
		const js_error *e = js_error_at(errors, i);

		if (e->instance_location == NULL || e->keyword_location == NULL ||
			e->message == NULL || e->keyword == NULL)
			abort();
	}
	if (rc == 1 && js_error_count(errors) != 0)
		abort();
	if (rc == 0 && js_error_count(errors) == 0)
		abort();
	js_error_list_free(errors);
	return rc;
}

/*
 * Are results "a" and "b" consistent, when the run that produced "b"
 * evaluated at least as much as the one that produced "a"?  Validity must
 * agree; a stopping run may finish (invalid) before reaching a point where
 * the complete run fails (-1), but not the other way round.
 */
static int
consistent(int a, int b)
{
	return (a == 1) == (b == 1) && (a != -1 || b == -1);
}

/* Compile and validate one schema/instance pair. */
static void
run_pair(json_t *schema, json_t *instance, js_draft draft)
{
	char	   *errmsg = NULL;
	js_schema  *compiled = js_compile_draft(schema, draft, &fuzz_regex, &errmsg);
	int			fast;
	int			full;
	int			one;

	if (compiled == NULL)
	{
		js_mem_free(errmsg);
		return;
	}
	fast = js_validate(compiled, instance, NULL);
	full = validate_with_list(compiled, instance, 0);
	one = validate_with_list(compiled, instance, 1);
	/* an injected allocation failure may hit any of the runs */
	if (!failure_injected && (!consistent(fast, full) || !consistent(one, full)))
	{
		fprintf(stderr, "inconsistent results: fast %d, full %d, one %d\n",
				fast, full, one);
		abort();
	}
	js_free(compiled);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data + 1;
	size_t		len;
	const char *sep;
	json_t	   *schema;
	json_t	   *instance;
	json_error_t jerr;
	static int	initialized = 0;

	if (!initialized)
	{
		js_set_alloc(fuzz_alloc, fuzz_free);
		initialized = 1;
	}
	if (size < 2)
		return 0;
	len = size - 1;
	sep = memchr(text, '\0', len);
	if (sep == NULL)
		sep = memchr(text, '\n', len);
	if (sep == NULL)
		return 0;
	schema = json_loadb(text, (size_t) (sep - text),
						JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	instance = json_loadb(sep + 1, len - (size_t) (sep - text) - 1,
						  JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (schema && instance)
	{
		fail_countdown = data[0] >> 1;
		failure_injected = 0;
		run_pair(schema, instance, (data[0] & 1) ? JS_DRAFT_7 : JS_DRAFT_2020_12);
		fail_countdown = 0;
	}
	json_decref(schema);
	json_decref(instance);
	if (live_allocations != 0)
	{
		fprintf(stderr, "%ld allocations leaked\n", live_allocations);
		abort();
	}
	return 0;
}
