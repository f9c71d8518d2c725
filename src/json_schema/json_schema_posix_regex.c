/*-------------------------------------------------------------------------
 *
 * json_schema_posix_regex.c
 *		POSIX regular expression hooks for the JSON Schema validator
 *
 * JSON Schema patterns are ECMA-262 regular expressions.  POSIX extended
 * expressions cover most patterns seen in practice once the common
 * character-class escapes are rewritten; this file does that rewriting
 * and wraps regcomp()/regexec() in the js_regex_ops interface.
 *
 * src/json_schema/json_schema_posix_regex.c
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "json_schema_posix_regex.h"

/*
 * Rewrite the ECMA-262 class escapes of "pattern" into POSIX syntax.
 * Returns an allocated string, or NULL when out of memory.
 */
static char *
translate_pattern(const char *pattern)
{
	size_t		len = strlen(pattern);
	char	   *out;
	char	   *o;
	const char *p;
	int			in_bracket = 0;

	/* the longest replacement, "[^A-Za-z0-9_]", is 13 bytes for 2 */
	out = js_mem_alloc(len * 7 + 1);
	if (out == NULL)
		return NULL;
	o = out;
	for (p = pattern; *p; p++)
	{
		const char *rep = NULL;

		if (*p == '\\' && p[1] != '\0')
		{
			switch (p[1])
			{
				case 'd':
					rep = in_bracket ? "0-9" : "[0-9]";
					break;
				case 'D':
					rep = in_bracket ? NULL : "[^0-9]";
					break;
				case 'w':
					rep = in_bracket ? "A-Za-z0-9_" : "[A-Za-z0-9_]";
					break;
				case 'W':
					rep = in_bracket ? NULL : "[^A-Za-z0-9_]";
					break;
				case 's':
					rep = in_bracket ? "[:space:]" : "[[:space:]]";
					break;
				case 'S':
					rep = in_bracket ? NULL : "[^[:space:]]";
					break;
				default:
					break;
			}
			if (rep)
			{
				strcpy(o, rep);
				o += strlen(rep);
			}
			else
			{
				*o++ = p[0];
				*o++ = p[1];
			}
			p++;
			continue;
		}
		if (*p == '[' && !in_bracket)
		{
			in_bracket = 1;
			*o++ = *p;
			/* a leading "^" and "]" belong to the bracket expression */
			if (p[1] == '^')
				*o++ = *++p;
			if (p[1] == ']')
				*o++ = *++p;
			continue;
		}
		if (*p == ']' && in_bracket)
			in_bracket = 0;
		*o++ = *p;
	}
	*o = '\0';
	return out;
}

/* Compile a pattern; returns a regex_t or NULL with a message. */
static void *
posix_compile(void *arg, const char *pattern, char **errmsg)
{
	regex_t    *re = js_mem_alloc(sizeof(regex_t));
	char	   *translated = translate_pattern(pattern);
	int			rc;

	(void) arg;
	if (re == NULL || translated == NULL)
	{
		js_mem_free(re);
		js_mem_free(translated);
		*errmsg = js_mem_strdup("out of memory");
		return NULL;
	}
	rc = regcomp(re, translated, REG_EXTENDED | REG_NOSUB);
	js_mem_free(translated);
	if (rc != 0)
	{
		char		buf[256];

		regerror(rc, re, buf, sizeof(buf));
		regfree(re);
		js_mem_free(re);
		*errmsg = js_mem_strdup(buf);
		return NULL;
	}
	return re;
}

/* Search "subject" for a match of a compiled pattern. */
static int
posix_match(void *arg, void *handle, const char *subject, size_t len,
			char **errmsg)
{
	regmatch_t	range[1];
	int			flags = 0;
	int			rc;

	(void) arg;
	(void) errmsg;
#ifdef REG_STARTEND
	/* lets strings containing NUL bytes be matched in full */
	range[0].rm_so = 0;
	range[0].rm_eo = (regoff_t) len;
	flags = REG_STARTEND;
#else
	(void) len;
#endif
	rc = regexec((regex_t *) handle, subject, 1, range, flags);
	if (rc == 0)
		return 1;
	if (rc == REG_NOMATCH)
		return 0;
	*errmsg = js_mem_strdup("regular expression matching failed");
	return -1;
}

/* Free a compiled pattern. */
static void
posix_release(void *arg, void *handle)
{
	(void) arg;
	regfree((regex_t *) handle);
	js_mem_free(handle);
}

static const js_regex_ops posix_ops = {
	posix_compile, posix_match, posix_release, NULL
};

/* The POSIX regex hooks, for js_compile(). */
const js_regex_ops *
js_posix_regex_ops(void)
{
	return &posix_ops;
}
