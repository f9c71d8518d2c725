/*-------------------------------------------------------------------------
 *
 * json_schema.h
 *		JSON Schema validation over jansson, independent of PostgreSQL
 *
 * This is the public interface of Mycelium's JSON Schema validator.  It
 * implements draft 2020-12 (the default) and draft-07 (selected by the
 * schema's "$schema").  References to other documents resolve to the
 * built-in meta-schemas of both drafts (and 2020-12's vocabulary
 * meta-schemas) or to documents the caller's load hook provides
 * (js_compile_opts); "$schema" may name a custom meta-schema, whose
 * "$vocabulary" is honoured.  "format" is an annotation only.
 *
 * Usage:
 *
 *		js_schema  *s = js_compile(schema_json, &regex_ops, &errmsg);
 *		js_error_list *errs = js_error_list_new(0);
 *		int			rc = js_validate(s, instance_json, errs);
 *		... rc is 1 (valid), 0 (invalid) or -1 (evaluation failed) ...
 *		js_error_list_free(errs);
 *		js_free(s);
 *
 * Contract with the embedding program:
 *
 * - The library never prints, exits, aborts or longjmps.  Failures are
 *	 returned.  Memory that the library allocates for itself goes through
 *	 js_mem_alloc()/js_mem_free(), which default to malloc()/free() and can
 *	 be redirected once, before first use, with js_set_alloc().  jansson's
 *	 own allocations (only temporary strings for "propertyNames") follow
 *	 jansson's allocator (json_set_alloc_funcs).
 * - A compiled js_schema is immutable: several threads may validate with
 *	 it at once if the regex callbacks are thread-safe.  The only global
 *	 state is the allocator pair.
 * - js_compile() takes a reference to the schema document (json_incref)
 *	 and keeps pointers into it; the caller must not modify the document
 *	 while the compiled schema lives.  The instance is only borrowed for
 *	 the duration of js_validate().
 * - Evaluation depth (schema and instance nesting, including $ref
 *	 recursion) is bounded by JS_MAX_DEPTH; exceeding it makes
 *	 js_validate() return -1 with an error entry, never overflow the stack.
 * - Evaluation cost is bounded by js_validate_limited()'s step budget,
 *	 and its interrupt hook is called regularly (see js_limits).  Results
 *	 of subschemas reached through "$ref" are memoised per instance value,
 *	 so schemas that share subschemas do not cost exponential time.
 *
 * src/json_schema/json_schema.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MYCELIUM_JSON_SCHEMA_H
#define MYCELIUM_JSON_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Maximum nesting of schema evaluation (and of compiled schemas). */
#define JS_MAX_DEPTH 512

/* Dialects understood by the compiler. */
typedef enum js_draft
{
	JS_DRAFT_2020_12,
	JS_DRAFT_7
} js_draft;

/*
 * Regular expression hooks for "pattern" and "patternProperties".
 *
 * compile: compile "pattern" (a NUL-terminated UTF-8 string) and return an
 *		opaque non-NULL handle, or NULL with *errmsg set to a message
 *		allocated with js_mem_alloc()/js_mem_strdup() (or left NULL, in
 *		which case a generic message is used).  Called by js_compile() only.
 * match: return 1 if the compiled expression matches anywhere in
 *		"subject" (UTF-8, subject_len bytes, also NUL-terminated; JSON
 *		Schema patterns are unanchored), 0 if not, or -1 on failure with
 *		*errmsg set as above.  Called by js_validate().
 * release: free a handle returned by compile.  Called by js_free() or when
 *		compilation fails.
 * arg: passed unchanged to all three.
 *
 * When js_compile() receives no ops, schemas using "pattern" or
 * "patternProperties" are rejected.
 */
typedef struct js_regex_ops
{
	void	   *(*compile) (void *arg, const char *pattern, char **errmsg);
	int			(*match) (void *arg, void *handle, const char *subject,
						  size_t subject_len, char **errmsg);
	void		(*release) (void *arg, void *handle);
	void	   *arg;
} js_regex_ops;

/*
 * Limits of one validation (js_validate_limited).
 *
 * max_steps: the evaluation budget, 0 for none.  A step is one subschema
 *		applied to one instance value, one comparison made by "enum" or
 *		"uniqueItems", one name looked up for "required", "dependentRequired"
 *		or "dependentSchemas", one pattern tried by "patternProperties", one
 *		anchor looked at for "$dynamicRef", or (JS_ERROR_STEPS of them) one
 *		error reported.
 *		Beyond it validation stops and returns -1 with an error entry
 *		whose keyword is "budget".
 * interrupt: if not NULL, called with "arg" every JS_INTERRUPT_STEPS
 *		steps; a nonzero return stops validation (-1, keyword
 *		"interrupted").  The hook may also leave by longjmp() (a
 *		PostgreSQL error) if the embedding program releases everything
 *		allocated through js_mem_alloc() and jansson's allocator by other
 *		means (PostgreSQL's memory contexts do): the library holds no other
 *		resource during js_validate().
 * steps, failure: set by the validation: the steps it took and, when it
 *		returned -1, the keyword of the failure ("budget", "depth", ...;
 *		see js_error), else NULL -- also when errors are not collected.
 */
#define JS_ERROR_STEPS 64
#define JS_INTERRUPT_STEPS 256

typedef struct js_limits
{
	unsigned long long max_steps;
	int			(*interrupt) (void *arg);
	void	   *arg;
	unsigned long long steps;	/* out */
	const char *failure;		/* out */
} js_limits;

/* A compiled schema (opaque). */
typedef struct js_schema js_schema;

/*
 * One validation error.  All strings are owned by the error list.
 *
 * instance_location: RFC 6901 JSON pointer of the offending value ("" is
 *		the instance root).
 * keyword_location: JSON pointer of the failing keyword along the
 *		evaluation path, through "$ref" (e.g. "/properties/name/type").
 * keyword: the failing keyword ("type", "required", ...); "false" for a
 *		false schema; for evaluation failures (return -1) "depth" (nesting
 *		limit), "budget" (step budget exhausted), "interrupted" (by the
 *		interrupt hook), "unevaluated" (out of memory) or the keyword that
 *		failed.
 *		Applicators such as "$ref" or "allOf" never fail by themselves.
 * message: English text in PostgreSQL message style (lowercase start, no
 *		trailing period), e.g. value must be of type "string", not "integer".
 */
typedef struct js_error
{
	char	   *instance_location;
	char	   *keyword_location;
	const char *keyword;
	char	   *message;
} js_error;

/* A list of validation errors (opaque). */
typedef struct js_error_list js_error_list;

/* Allocation hooks; call before any other function, never concurrently. */
extern void js_set_alloc(void *(*alloc_fn) (size_t), void (*free_fn) (void *));
extern void *js_mem_alloc(size_t size);
extern void js_mem_free(void *ptr);
extern char *js_mem_strdup(const char *str);

/*
 * Compile a schema document.  Returns NULL on failure, with *errmsg (if
 * errmsg is not NULL) set to a message to be freed with js_mem_free().
 * "regex" may be NULL (then "pattern" keywords are rejected); it is copied.
 */
extern js_schema *js_compile(json_t *schema, const js_regex_ops *regex,
							 char **errmsg);

/*
 * Like js_compile(), but a schema without "$schema" is read in dialect
 * "default_draft" instead of draft 2020-12.
 */
extern js_schema *js_compile_draft(json_t *schema, js_draft default_draft,
								   const js_regex_ops *regex, char **errmsg);

/*
 * Options of js_compile_opts().
 *
 * default_draft: the dialect of a schema without "$schema".
 * regex: as for js_compile().
 * load: if not NULL, called for a reference (or a "$schema") to a
 *		document that is neither the schema itself nor a built-in
 *		meta-schema, with its absolute URI (no fragment); returns a new
 *		reference to the document, which the compiled schema keeps, or NULL
 *		if there is none (then compilation fails).  Documents are read in
 *		the dialect of the schema that refers to them.
 * load_arg: passed unchanged to load.
 * max_steps, interrupt, interrupt_arg: as in js_limits, for compilation
 *		(a step is a schema object walked, or an identifier, anchor or
 *		pointer token compared or followed).
 * failure: set by compilation: "budget" or "interrupted" if it stopped
 *		for one of those, else NULL.
 */
typedef struct js_compile_options
{
	js_draft	default_draft;
	const js_regex_ops *regex;
	json_t	   *(*load) (void *arg, const char *uri);
	void	   *load_arg;
	unsigned long long max_steps;
	int			(*interrupt) (void *arg);
	void	   *interrupt_arg;
	const char *failure;		/* out */
} js_compile_options;

/* Like js_compile(), with options (NULL: the defaults of js_compile). */
extern js_schema *js_compile_opts(json_t *schema, js_compile_options *opts,
								  char **errmsg);

/* Whether compiling the schema called the load hook (other documents). */
extern bool js_schema_loaded_documents(const js_schema *schema);

/* The dialect a compiled schema was compiled for. */
extern js_draft js_schema_draft(const js_schema *schema);

/* Free a compiled schema (NULL is allowed). */
extern void js_free(js_schema *schema);

/*
 * Validate "instance" against a compiled schema.  Returns 1 if valid, 0 if
 * invalid, -1 if evaluation failed (depth limit exceeded, regex failure,
 * out of memory).  If "errors" is not NULL, every error is appended to it
 * (up to its limit), and on -1 an entry describing the failure is appended
 * even beyond the limit.  With errors == NULL validation stops at the
 * first failure, which is the fastest mode.
 */
extern int	js_validate(const js_schema *schema, json_t *instance,
						js_error_list *errors);

/*
 * Like js_validate(), within "limits" (NULL: none).  Also returns -1 when
 * the budget is exhausted or the interrupt hook asks to stop.
 */
extern int	js_validate_limited(const js_schema *schema, json_t *instance,
								js_error_list *errors, js_limits *limits);

/*
 * Error lists.  max_errors == 0 means unlimited; otherwise collection (and
 * validation) stops once that many errors were found, and
 * js_error_list_truncated() reports whether that happened.  A list may be
 * reused for several validations; new errors are appended.
 */
extern js_error_list *js_error_list_new(size_t max_errors);
extern size_t js_error_count(const js_error_list *list);
extern const js_error *js_error_at(const js_error_list *list, size_t i);
extern bool js_error_list_truncated(const js_error_list *list);
extern void js_error_list_clear(js_error_list *list);
extern void js_error_list_free(js_error_list *list);

#endif							/* MYCELIUM_JSON_SCHEMA_H */
