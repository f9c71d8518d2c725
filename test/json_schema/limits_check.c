/*-------------------------------------------------------------------------
 *
 * limits_check.c
 *		Checks of the validator's cost bounds, outside the server
 *
 * Usage: limits_check
 *
 * Schemas whose naive evaluation takes 2^40 steps (a chain of "anyOf":
 * [next, {"allOf": [next]}] under "unevaluatedProperties", also ending in
 * a "$dynamicRef", and a chain of "allOf": [next, next] inside
 * "propertyNames") must validate in a few hundred steps thanks to the
 * memo; exponentially many errors must stop at the budget (keyword
 * "budget"); an interrupt hook asking to stop must stop validation
 * (keyword "interrupted") and compilation; a schema with 200,000 "$id"s
 * must compile in linear time.  Exits with status 1 on the first check
 * that fails.  Run under AddressSanitizer by "make asan".
 *
 * test/json_schema/limits_check.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_schema.h"
#include "json_schema_posix_regex.h"

static int	failures = 0;
static int	hook_calls = 0;
static int	hook_stop_after = 0;

/* Report one check. */
static void
check(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "FAILED", what);
	if (!ok)
		failures++;
}

/* Interrupt hook asking to stop at its hook_stop_after-th call. */
static int
stop_hook(void *arg)
{
	(void) arg;
	return ++hook_calls >= hook_stop_after;
}

/*
 * n levels of $defs d0..dn: "anyOf": [next, {"allOf": [next]}] (kind 0),
 * or "allOf": [next, next] (kind 1); the last level is "leaf".
 */
static json_t *
chain_defs(int n, int kind, json_t *leaf)
{
	json_t	   *defs = json_object();
	char		key[32];
	char		ref[48];
	int			i;

	for (i = 0; i < n; i++)
	{
		snprintf(key, sizeof(key), "d%d", i);
		snprintf(ref, sizeof(ref), "#/$defs/d%d", i + 1);
		if (kind == 0)
			json_object_set_new(defs, key,
								json_pack("{s:[{s:s},{s:[{s:s}]}]}", "anyOf", "$ref", ref,
										  "allOf", "$ref", ref));
		else
			json_object_set_new(defs, key,
								json_pack("{s:[{s:s},{s:s}]}", "allOf", "$ref", ref,
										  "$ref", ref));
	}
	snprintf(key, sizeof(key), "d%d", n);
	json_object_set_new(defs, key, leaf);
	return defs;
}

/* Compile "doc" (our reference is dropped) or exit. */
static js_schema *
compile(json_t *doc)
{
	char	   *err = NULL;
	js_schema  *s = js_compile(doc, js_posix_regex_ops(), &err);

	json_decref(doc);
	if (s == NULL)
	{
		printf("FAILED: cannot compile: %s\n", err);
		exit(1);
	}
	return s;
}

/* Validate the JSON text "text" within "limits"; errors as in js_validate. */
static int
validate(js_schema *s, const char *text, js_error_list *errors, js_limits *limits)
{
	json_t	   *inst = json_loads(text, JSON_DECODE_ANY, NULL);
	int			rc = js_validate_limited(s, inst, errors, limits);

	json_decref(inst);
	return rc;
}

/* Entry point: see the file header. */
int
main(void)
{
	js_limits	lim;
	js_schema  *s;
	js_error_list *errs;
	js_compile_options opts;
	json_t	   *doc;
	char	   *err = NULL;
	clock_t		t0;
	int			rc;
	int			i;

	memset(&lim, 0, sizeof(lim));
	lim.max_steps = 100000;

	/* the schema of issue 27, 40 levels */
	s = compile(json_pack("{s:s,s:b,s:o}", "$ref", "#/$defs/d0",
						  "unevaluatedProperties", 0, "$defs",
						  chain_defs(40, 0, json_pack("{s:{s:{s:s}}}", "properties", "a",
													  "type", "integer"))));
	rc = validate(s, "{\"a\": 1}", NULL, &lim);
	check(rc == 1 && lim.steps < 1000, "40 anyOf/allOf levels: valid in few steps");
	errs = js_error_list_new(0);
	rc = validate(s, "{\"a\": 1, \"b\": 2}", errs, &lim);
	check(rc == 0 && js_error_count(errs) == 1 && lim.steps < 1000,
		  "40 anyOf/allOf levels: one unevaluated property, in few steps");
	js_error_list_free(errs);
	js_free(s);

	/* the same, ending in a $dynamicRef */
	doc = json_pack("{s:s,s:s,s:b,s:o}", "$id", "https://example.com/chain",
					"$ref", "#/$defs/d0", "unevaluatedProperties", 0, "$defs",
					chain_defs(40, 0, json_pack("{s:s}", "$dynamicRef", "#leaf")));
	json_object_set_new(json_object_get(doc, "$defs"), "leaf",
						json_pack("{s:s,s:{s:{s:s}}}", "$dynamicAnchor", "leaf",
								  "properties", "a", "type", "integer"));
	s = compile(doc);
	rc = validate(s, "{\"a\": 1}", NULL, &lim);
	check(rc == 1 && lim.steps < 1000, "40 levels ending in $dynamicRef: valid in few steps");
	rc = validate(s, "{\"a\": \"x\"}", NULL, &lim);
	check(rc == 0 && lim.steps < 1000, "40 levels ending in $dynamicRef: invalid in few steps");
	js_free(s);

	/* 40 doubling levels inside propertyNames */
	s = compile(json_pack("{s:{s:s},s:o}", "propertyNames", "$ref", "#/$defs/d0", "$defs",
						  chain_defs(40, 1, json_pack("{s:i}", "maxLength", 3))));
	rc = validate(s, "{\"a\": 1, \"bb\": 2}", NULL, &lim);
	check(rc == 1 && lim.steps < 1000, "40 allOf levels in propertyNames: valid in few steps");
	rc = validate(s, "{\"a\": 1, \"bbbbb\": 2}", NULL, &lim);
	check(rc == 0 && lim.steps < 1000, "40 allOf levels in propertyNames: invalid in few steps");
	js_free(s);

	/* 2^30 errors: the budget stops them */
	s = compile(json_pack("{s:s,s:o}", "$ref", "#/$defs/d0", "$defs",
						  chain_defs(30, 1, json_pack("{s:s}", "type", "string"))));
	errs = js_error_list_new(0);
	rc = validate(s, "1", errs, &lim);
	check(rc == -1 && lim.failure && strcmp(lim.failure, "budget") == 0 &&
		  lim.steps <= lim.max_steps + 64,
		  "2^30 errors: stopped by the budget");
	js_error_list_free(errs);

	/* the interrupt hook stops validation */
	memset(&lim, 0, sizeof(lim));
	lim.interrupt = stop_hook;
	hook_stop_after = 10;
	errs = js_error_list_new(0);
	rc = validate(s, "1", errs, &lim);
	/* each call comes JS_INTERRUPT_STEPS steps after the last, or an error later */
	check(rc == -1 && lim.failure && strcmp(lim.failure, "interrupted") == 0 &&
		  hook_calls == 10 && lim.steps <= 10 * (JS_INTERRUPT_STEPS + JS_ERROR_STEPS),
		  "the interrupt hook stops validation");
	if (hook_calls != 10 || lim.steps > 10 * (JS_INTERRUPT_STEPS + JS_ERROR_STEPS))
		printf("  rc %d, %d calls, %llu steps\n", rc, hook_calls, lim.steps);
	js_error_list_free(errs);
	js_free(s);

	/* 200,000 "$id"s compile in linear time; the hook stops compilation */
	doc = json_object();
	for (i = 0; i < 200000; i++)
	{
		char		key[32];
		char		id[64];
		char		ref[64];

		snprintf(key, sizeof(key), "d%d", i);
		snprintf(id, sizeof(id), "https://example.com/s%d", i);
		snprintf(ref, sizeof(ref), "https://example.com/s%d", i + 1 < 200000 ? i + 1 : 0);
		json_object_set_new(doc, key, json_pack("{s:s,s:{s:s}}", "$id", id,
												"items", "$ref", ref));
	}
	doc = json_pack("{s:o}", "$defs", doc);
	memset(&opts, 0, sizeof(opts));
	opts.regex = js_posix_regex_ops();
	t0 = clock();
	s = js_compile_opts(doc, &opts, &err);
	check(s != NULL && (double) (clock() - t0) / CLOCKS_PER_SEC < 20,
		  "200,000 $ids compile in linear time");
	js_free(s);
	hook_calls = 0;
	hook_stop_after = 3;
	opts.interrupt = stop_hook;
	s = js_compile_opts(doc, &opts, &err);
	check(s == NULL && opts.failure && strcmp(opts.failure, "interrupted") == 0,
		  "the interrupt hook stops compilation");
	js_mem_free(err);
	opts.interrupt = NULL;
	opts.max_steps = 1000;
	s = js_compile_opts(doc, &opts, &err);
	check(s == NULL && opts.failure && strcmp(opts.failure, "budget") == 0,
		  "the budget stops compilation");
	js_mem_free(err);
	json_decref(doc);

	printf("%s\n", failures ? "LIMITS CHECK FAILED" : "limits check passed");
	return failures ? 1 : 0;
}
