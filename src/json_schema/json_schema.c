/*-------------------------------------------------------------------------
 *
 * json_schema.c
 *		JSON Schema validation over jansson (draft 2020-12 and draft-07)
 *
 * A schema document is compiled once into a graph of js_node structures:
 * keyword values are checked and decoded, "$ref" and "$dynamicRef" are
 * resolved to node pointers, property names are sorted for binary search
 * and regular expressions are compiled through the caller's hooks.
 * Validation then walks that graph alongside the instance without looking
 * at the schema JSON again.
 *
 * Compilation works in three passes: a registration walk collects every
 * schema resource ("$id") and anchor of the document; a compile walk
 * builds nodes for every value in a schema position; references whose
 * targets were not compiled by that walk (JSON pointers into unknown
 * keywords, for instance) are queued and compiled afterwards, so that
 * "$ref" cycles never recurse.
 *
 * Validation tracks evaluated properties/items (the annotations behind
 * "unevaluatedProperties" and "unevaluatedItems") only when a schema asks
 * for them, and builds location strings only when it reports an error:
 * paths are kept as linked lists of segments on the C stack.
 *
 * Nothing here prints, exits or longjmps; memory goes through the
 * js_mem_alloc()/js_mem_free() hooks (compiled schemas use an arena).
 *
 * src/json_schema/json_schema.c
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_schema.h"
#include "json_schema_meta.h"

/* lets the compiler check format strings against their arguments */
#ifdef __GNUC__
#define JS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define JS_PRINTF(fmt, args)
#endif

/* Type bits used by "type" and for instance classification. */
#define JS_T_NULL		0x01
#define JS_T_BOOLEAN	0x02
#define JS_T_OBJECT		0x04
#define JS_T_ARRAY		0x08
#define JS_T_NUMBER		0x10
#define JS_T_STRING		0x20
#define JS_T_INTEGER	0x40

/* Maximum bytes of an instance string quoted in a message. */
#define JS_MAX_QUOTE	128

/* Size of one arena chunk. */
#define JS_ARENA_CHUNK	8192

/* ----------------------------------------------------------------
 * Allocation hooks
 * ----------------------------------------------------------------
 */

static void *(*js_alloc_hook) (size_t) = malloc;
static void (*js_free_hook) (void *) = free;

/*
 * Install the allocator used for everything this library allocates.
 * Must be called before any schema or error list exists.
 */
void
js_set_alloc(void *(*alloc_fn) (size_t), void (*free_fn) (void *))
{
	js_alloc_hook = alloc_fn ? alloc_fn : malloc;
	js_free_hook = free_fn ? free_fn : free;
}

/* Allocate through the hook; zero-size requests still get a block. */
void *
js_mem_alloc(size_t size)
{
	return js_alloc_hook(size ? size : 1);
}

/* Free through the hook; NULL is ignored. */
void
js_mem_free(void *ptr)
{
	if (ptr)
		js_free_hook(ptr);
}

/* Duplicate a string through the hook. */
char *
js_mem_strdup(const char *str)
{
	size_t		len = strlen(str);
	char	   *copy = js_mem_alloc(len + 1);

	if (copy)
		memcpy(copy, str, len + 1);
	return copy;
}

/* ----------------------------------------------------------------
 * Growable string buffer
 *
 * Used for messages, JSON pointers and URIs.  An allocation failure
 * marks the buffer failed; buf_finish() then returns NULL.
 * ----------------------------------------------------------------
 */

typedef struct js_buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		failed;
} js_buf;

/* Make room for "extra" more bytes plus a terminator. */
static bool
buf_reserve(js_buf *buf, size_t extra)
{
	size_t		need;
	size_t		newcap;
	char	   *newdata;

	if (buf->failed)
		return false;
	need = buf->len + extra + 1;
	if (need <= buf->cap)
		return true;
	newcap = buf->cap ? buf->cap * 2 : 64;
	while (newcap < need)
		newcap *= 2;
	newdata = js_mem_alloc(newcap);
	if (newdata == NULL)
	{
		buf->failed = true;
		return false;
	}
	if (buf->data)
	{
		memcpy(newdata, buf->data, buf->len + 1);
		js_mem_free(buf->data);
	}
	buf->data = newdata;
	buf->cap = newcap;
	return true;
}

/* Append "len" bytes. */
static void
buf_append(js_buf *buf, const char *str, size_t len)
{
	if (!buf_reserve(buf, len))
		return;
	memcpy(buf->data + buf->len, str, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

/* Append a NUL-terminated string. */
static void
buf_puts(js_buf *buf, const char *str)
{
	buf_append(buf, str, strlen(str));
}

/* Append printf-style formatted text. */
static void buf_vprintf(js_buf *buf, const char *fmt, va_list ap) JS_PRINTF(2, 0);
static void
buf_vprintf(js_buf *buf, const char *fmt, va_list ap)
{
	va_list		ap2;
	int			n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
	{
		buf->failed = true;
		return;
	}
	if (!buf_reserve(buf, (size_t) n))
		return;
	vsnprintf(buf->data + buf->len, (size_t) n + 1, fmt, ap);
	buf->len += (size_t) n;
}

/* Append printf-style formatted text (variadic form). */
static void buf_printf(js_buf *buf, const char *fmt,...) JS_PRINTF(2, 3);
static void
buf_printf(js_buf *buf, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	buf_vprintf(buf, fmt, ap);
	va_end(ap);
}

/* Return the buffer's string (caller frees), or NULL if anything failed. */
static char *
buf_finish(js_buf *buf)
{
	if (buf->failed)
	{
		js_mem_free(buf->data);
		return NULL;
	}
	if (buf->data == NULL)
		return js_mem_strdup("");
	return buf->data;
}

/* ----------------------------------------------------------------
 * Arena
 *
 * Everything belonging to a compiled schema lives in one arena, freed
 * in one go by js_free().
 * ----------------------------------------------------------------
 */

typedef struct js_chunk
{
	struct js_chunk *next;
	size_t		size;
	size_t		used;
} js_chunk;

#define JS_ALIGN(x)		(((x) + 15) & ~(size_t) 15)
#define JS_CHUNK_HDR	JS_ALIGN(sizeof(js_chunk))

typedef struct js_arena
{
	js_chunk   *head;
} js_arena;

/* Return "size" zeroed bytes from the arena, or NULL when out of memory. */
static void *
arena_alloc(js_arena *arena, size_t size)
{
	js_chunk   *chunk = arena->head;
	char	   *result;

	size = JS_ALIGN(size ? size : 1);
	if (chunk == NULL || chunk->size - chunk->used < size)
	{
		size_t		csize = size > JS_ARENA_CHUNK / 4 ? size : JS_ARENA_CHUNK;

		if (csize > SIZE_MAX - JS_CHUNK_HDR)
			return NULL;
		chunk = js_mem_alloc(JS_CHUNK_HDR + csize);
		if (chunk == NULL)
			return NULL;
		chunk->size = csize;
		chunk->used = 0;
		/* keep a partly used chunk in front if this one is a big block */
		if (arena->head && csize != JS_ARENA_CHUNK)
		{
			chunk->next = arena->head->next;
			arena->head->next = chunk;
		}
		else
		{
			chunk->next = arena->head;
			arena->head = chunk;
		}
	}
	result = (char *) chunk + JS_CHUNK_HDR + chunk->used;
	chunk->used += size;
	memset(result, 0, size);
	return result;
}

/* Allocate an array of n elements of "size" bytes, checking overflow. */
static void *
arena_array(js_arena *arena, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	return arena_alloc(arena, n * size);
}

/* Copy a string of "len" bytes into the arena. */
static char *
arena_strndup(js_arena *arena, const char *str, size_t len)
{
	char	   *copy;

	if (len == SIZE_MAX)
		return NULL;
	copy = arena_alloc(arena, len + 1);
	if (copy)
		memcpy(copy, str, len);
	return copy;
}

/* Free every chunk of the arena. */
static void
arena_free(js_arena *arena)
{
	js_chunk   *chunk = arena->head;

	while (chunk)
	{
		js_chunk   *next = chunk->next;

		js_mem_free(chunk);
		chunk = next;
	}
	arena->head = NULL;
}

/* ----------------------------------------------------------------
 * Pointer map
 *
 * An open-addressing hash map from json_t pointers to compiled objects,
 * used only while compiling.
 * ----------------------------------------------------------------
 */

typedef struct js_ptr_map
{
	const void **keys;
	void	  **values;
	size_t		cap;			/* power of two, or 0 */
	size_t		count;
} js_ptr_map;

/* Hash a pointer to a slot index. */
static size_t
ptr_hash(const void *key, size_t cap)
{
	uint64_t	h = (uint64_t) (uintptr_t) key;

	h ^= h >> 17;
	h *= UINT64_C(0x9E3779B97F4A7C15);
	return (size_t) (h >> 20) & (cap - 1);
}

/* Look a key up; NULL if absent. */
static void *
ptr_map_get(const js_ptr_map *map, const void *key)
{
	size_t		i;

	if (map->cap == 0)
		return NULL;
	for (i = ptr_hash(key, map->cap); map->keys[i]; i = (i + 1) & (map->cap - 1))
	{
		if (map->keys[i] == key)
			return map->values[i];
	}
	return NULL;
}

static bool ptr_map_put(js_ptr_map *map, const void *key, void *value);

/* Double the capacity of the map, rehashing all entries. */
static bool
ptr_map_grow(js_ptr_map *map)
{
	js_ptr_map	bigger;
	size_t		i;

	bigger.cap = map->cap ? map->cap * 2 : 64;
	bigger.count = 0;
	bigger.keys = js_mem_alloc(bigger.cap * sizeof(void *));
	bigger.values = js_mem_alloc(bigger.cap * sizeof(void *));
	if (bigger.keys == NULL || bigger.values == NULL)
	{
		js_mem_free(bigger.keys);
		js_mem_free(bigger.values);
		return false;
	}
	memset(bigger.keys, 0, bigger.cap * sizeof(void *));
	for (i = 0; i < map->cap; i++)
	{
		if (map->keys[i])
			ptr_map_put(&bigger, map->keys[i], map->values[i]);
	}
	js_mem_free(map->keys);
	js_mem_free(map->values);
	*map = bigger;
	return true;
}

/* Insert or replace an entry. */
static bool
ptr_map_put(js_ptr_map *map, const void *key, void *value)
{
	size_t		i;

	if ((map->count + 1) * 2 > map->cap && !ptr_map_grow(map))
		return false;
	for (i = ptr_hash(key, map->cap); map->keys[i]; i = (i + 1) & (map->cap - 1))
	{
		if (map->keys[i] == key)
		{
			map->values[i] = value;
			return true;
		}
	}
	map->keys[i] = key;
	map->values[i] = value;
	map->count++;
	return true;
}

/* Release the map's storage. */
static void
ptr_map_free(js_ptr_map *map)
{
	js_mem_free(map->keys);
	js_mem_free(map->values);
	memset(map, 0, sizeof(*map));
}

/* ----------------------------------------------------------------
 * Paths
 *
 * Instance and keyword locations are linked lists of segments living
 * on the C stack; they are turned into JSON pointers only on error.
 * ----------------------------------------------------------------
 */

typedef struct js_path
{
	const struct js_path *up;
	const char *key;			/* NULL for an array index */
	size_t		len;			/* length of key, or the index */
} js_path;

/* Initialize a path segment naming an object member. */
static inline js_path
path_key(const js_path *up, const char *key, size_t len)
{
	js_path		p;

	p.up = up;
	p.key = key;
	p.len = len;
	return p;
}

/* Initialize a path segment naming a keyword (NUL-terminated). */
static inline js_path
path_kw(const js_path *up, const char *kw)
{
	return path_key(up, kw, strlen(kw));
}

/* Initialize a path segment naming an array index. */
static inline js_path
path_index(const js_path *up, size_t index)
{
	js_path		p;

	p.up = up;
	p.key = NULL;
	p.len = index;
	return p;
}

/* Append one reference token, escaping "~" and "/" as RFC 6901 requires. */
static void
buf_pointer_token(js_buf *buf, const char *key, size_t len)
{
	size_t		i;
	size_t		start = 0;

	for (i = 0; i < len; i++)
	{
		if (key[i] == '~' || key[i] == '/')
		{
			buf_append(buf, key + start, i - start);
			buf_puts(buf, key[i] == '~' ? "~0" : "~1");
			start = i + 1;
		}
	}
	buf_append(buf, key + start, len - start);
}

/* Append the JSON pointer for "path" (root first) to "buf". */
static void
buf_path(js_buf *buf, const js_path *path)
{
	const js_path *p;
	const js_path **segs;
	size_t		n = 0;
	size_t		i;

	for (p = path; p; p = p->up)
		n++;
	if (n == 0)
		return;
	segs = js_mem_alloc(n * sizeof(*segs));
	if (segs == NULL)
	{
		buf->failed = true;
		return;
	}
	i = n;
	for (p = path; p; p = p->up)
		segs[--i] = p;
	for (i = 0; i < n; i++)
	{
		buf_append(buf, "/", 1);
		if (segs[i]->key)
			buf_pointer_token(buf, segs[i]->key, segs[i]->len);
		else
			buf_printf(buf, "%zu", segs[i]->len);
	}
	js_mem_free(segs);
}

/* Return the JSON pointer for "path" as an allocated string. */
static char *
path_string(const js_path *path)
{
	js_buf		buf = {0};

	buf_path(&buf, path);
	return buf_finish(&buf);
}

/* ----------------------------------------------------------------
 * JSON helpers: numbers, equality, hashing
 * ----------------------------------------------------------------
 */

/*
 * If "v" is a number with an integral value representable as json_int_t,
 * store it in *out and return true.
 */
static bool
json_as_int(const json_t *v, json_int_t *out)
{
	double		d;

	if (json_is_integer(v))
	{
		*out = json_integer_value(v);
		return true;
	}
	if (!json_is_real(v))
		return false;
	d = json_real_value(v);
	if (!isfinite(d) || floor(d) != d || d < -9223372036854775808.0 ||
		d >= 9223372036854775808.0)
		return false;
	*out = (json_int_t) d;
	return true;
}

/* Is "v" a number with an integral value (the "integer" type)? */
static bool
json_is_integral(const json_t *v)
{
	double		d;

	if (json_is_integer(v))
		return true;
	if (!json_is_real(v))
		return false;
	d = json_real_value(v);
	return isfinite(d) && floor(d) == d;
}

/* Compare two JSON numbers: negative, zero or positive like strcmp. */
static int
number_cmp(const json_t *a, const json_t *b)
{
	long double x;
	long double y;

	if (json_is_integer(a) && json_is_integer(b))
	{
		json_int_t	i = json_integer_value(a);
		json_int_t	j = json_integer_value(b);

		return (i > j) - (i < j);
	}
	/* long double holds every int64 exactly on the usual platforms */
	x = json_is_integer(a) ? (long double) json_integer_value(a) : json_real_value(a);
	y = json_is_integer(b) ? (long double) json_integer_value(b) : json_real_value(b);
	return (x > y) - (x < y);
}

/*
 * Compare two JSON values for equality as JSON Schema defines it:
 * numbers by value (1 equals 1.0), objects regardless of member order.
 * Returns 1 equal, 0 different, -1 if nested deeper than JS_MAX_DEPTH.
 */
static int
json_equal_depth(const json_t *a, const json_t *b, int depth)
{
	if (depth > JS_MAX_DEPTH)
		return -1;
	if (json_is_number(a) && json_is_number(b))
		return number_cmp(a, b) == 0;
	if (json_typeof(a) != json_typeof(b))
		return 0;
	switch (json_typeof(a))
	{
		case JSON_STRING:
			return json_string_length(a) == json_string_length(b) &&
				memcmp(json_string_value(a), json_string_value(b),
					   json_string_length(a)) == 0;
		case JSON_ARRAY:
			{
				size_t		i;

				if (json_array_size(a) != json_array_size(b))
					return 0;
				for (i = 0; i < json_array_size(a); i++)
				{
					int			r = json_equal_depth(json_array_get(a, i),
													 json_array_get(b, i),
													 depth + 1);

					if (r != 1)
						return r;
				}
				return 1;
			}
		case JSON_OBJECT:
			{
				const char *key;
				size_t		klen;
				json_t	   *va;

				if (json_object_size(a) != json_object_size(b))
					return 0;
				json_object_keylen_foreach((json_t *) a, key, klen, va)
				{
					json_t	   *vb = json_object_getn(b, key, klen);
					int			r;

					if (vb == NULL)
						return 0;
					r = json_equal_depth(va, vb, depth + 1);
					if (r != 1)
						return r;
				}
				return 1;
			}
		default:
			return 1;			/* null, true, false */
	}
}

/* Mix a 64-bit value into a hash (a splitmix64 step). */
static uint64_t
hash_mix(uint64_t h, uint64_t v)
{
	h ^= v + UINT64_C(0x9E3779B97F4A7C15) + (h << 6) + (h >> 2);
	h ^= h >> 31;
	h *= UINT64_C(0xBF58476D1CE4E5B9);
	h ^= h >> 27;
	return h;
}

/* Hash a byte string (FNV-1a). */
static uint64_t
hash_bytes(const char *s, size_t len)
{
	uint64_t	h = UINT64_C(0xCBF29CE484222325);
	size_t		i;

	for (i = 0; i < len; i++)
	{
		h ^= (unsigned char) s[i];
		h *= UINT64_C(0x100000001B3);
	}
	return h;
}

/*
 * Hash a JSON value consistently with json_equal_depth(): equal values
 * hash equally (integral reals like integers, objects order-independently).
 * Deeply nested parts hash to a constant, which is still consistent.
 */
static uint64_t
json_hash(const json_t *v, int depth)
{
	json_int_t	iv;

	if (depth > JS_MAX_DEPTH)
		return 0;
	if (json_as_int(v, &iv))
		return hash_mix(1, (uint64_t) iv);
	switch (json_typeof(v))
	{
		case JSON_REAL:
			{
				double		d = json_real_value(v);
				uint64_t	bits;

				memcpy(&bits, &d, sizeof(bits));
				return hash_mix(2, bits);
			}
		case JSON_STRING:
			return hash_mix(3, hash_bytes(json_string_value(v),
										  json_string_length(v)));
		case JSON_ARRAY:
			{
				uint64_t	h = 4;
				size_t		i;

				for (i = 0; i < json_array_size(v); i++)
					h = hash_mix(h, json_hash(json_array_get(v, i), depth + 1));
				return h;
			}
		case JSON_OBJECT:
			{
				uint64_t	sum = 0;
				const char *key;
				size_t		klen;
				json_t	   *val;

				json_object_keylen_foreach((json_t *) v, key, klen, val)
					sum += hash_mix(hash_bytes(key, klen), json_hash(val, depth + 1));
				return hash_mix(5, sum);
			}
		default:
			return hash_mix(6, (uint64_t) json_typeof(v));
	}
}

/*
 * Decompose a finite double into the shortest decimal mantissa and
 * exponent that round-trip (x == mant * 10^exp).  Returns false if the
 * value cannot be represented that way (never for finite doubles).
 */
static bool
decimal_parts(double x, int64_t *mant, int *exp10)
{
	char		text[40];
	int			prec;

	for (prec = 0; prec <= 16; prec++)
	{
		char	   *e;
		int64_t		m = 0;
		int			digits = 0;
		const char *p;

		snprintf(text, sizeof(text), "%.*e", prec, x);
		if (strtod(text, NULL) != x && prec < 16)
			continue;
		e = strchr(text, 'e');
		if (e == NULL)
			return false;
		for (p = text; p < e; p++)
		{
			if (isdigit((unsigned char) *p))
			{
				m = m * 10 + (*p - '0');
				digits++;
			}
		}
		*mant = (text[0] == '-') ? -m : m;
		*exp10 = atoi(e + 1) - (digits - 1);
		return true;
	}
	return false;
}

/* Multiply *v by 10^n, returning false on int64 overflow. */
static bool
scale_pow10(int64_t *v, int n)
{
	while (n-- > 0)
	{
		if (*v > INT64_MAX / 10 || *v < -(INT64_MAX / 10))
			return false;
		*v *= 10;
	}
	return true;
}

/*
 * Is "x" a multiple of "m" (m > 0)?  Integers are checked exactly; other
 * values are compared as the decimal numbers they were written as, so
 * that 0.0075 is a multiple of 0.0001.  Values too large for that fall
 * back to a floating-point test; an infinite quotient is not a multiple.
 */
static bool
is_multiple_of(const json_t *x, const json_t *m)
{
	double		dx;
	double		dm;
	double		q;
	int64_t		xm;
	int64_t		mm;
	int			xe;
	int			me;

	if (json_is_integer(x) && json_is_integer(m))
		return json_integer_value(x) % json_integer_value(m) == 0;
	dx = json_number_value(x);
	dm = json_number_value(m);
	if (dx == 0)
		return true;
	if (decimal_parts(dx, &xm, &xe) && decimal_parts(dm, &mm, &me))
	{
		int			k = xe < me ? xe : me;

		if (xe - k <= 18 && me - k <= 18 &&
			scale_pow10(&xm, xe - k) && scale_pow10(&mm, me - k) && mm != 0)
			return xm % mm == 0;
	}
	q = dx / dm;
	if (!isfinite(q))
		return false;
	return fabs(q - nearbyint(q)) <= 1e-9 * fmax(1.0, fabs(q));
}

/* Append a JSON number to a buffer in its shortest round-trip form. */
static void
buf_number(js_buf *buf, const json_t *v)
{
	double		d;
	int			prec;
	char		text[40];

	if (json_is_integer(v))
	{
		buf_printf(buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	}
	d = json_real_value(v);
	for (prec = 15; prec < 17; prec++)
	{
		snprintf(text, sizeof(text), "%.*g", prec, d);
		if (strtod(text, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(text, sizeof(text), "%.17g", d);
	buf_puts(buf, text);
}

/* Number of Unicode code points in a UTF-8 string. */
static size_t
utf8_length(const char *s, size_t len)
{
	size_t		n = 0;
	size_t		i;

	for (i = 0; i < len; i++)
	{
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			n++;
	}
	return n;
}

/* ----------------------------------------------------------------
 * Compiled schema structures
 * ----------------------------------------------------------------
 */

typedef struct js_node js_node;
typedef struct js_resource js_resource;

/* A property name with its subschema (sorted for binary search). */
typedef struct js_named_node
{
	const char *name;
	size_t		len;
	js_node    *node;
} js_named_node;

/* A "patternProperties" entry. */
typedef struct js_pattern_node
{
	const char *pattern;
	void	   *regex;
	js_node    *node;
} js_pattern_node;

/* A "dependentRequired" entry: if "name" is present, "required" must be. */
typedef struct js_dependency
{
	const char *name;
	size_t		len;
	json_t	   *required;		/* array of strings, borrowed */
} js_dependency;

/* An anchor ("$anchor", "$dynamicAnchor", or draft-07 "$id": "#name"). */
typedef struct js_anchor
{
	struct js_anchor *next;
	const char *name;
	json_t	   *target;
	js_node    *node;			/* filled after compilation */
	bool		dynamic;
} js_anchor;

/* A schema resource: the document root or a subschema with "$id". */
struct js_resource
{
	js_resource *next;
	const char *uri;			/* absolute, without fragment; "" for an
								 * anonymous root */
	json_t	   *root;
	js_anchor  *anchors;
	bool		foreign;		/* in another document than the schema's */
	bool		dynamic;		/* has a "$dynamicAnchor" */
};

/* Another document a schema refers to, kept while the schema lives. */
typedef struct js_document
{
	struct js_document *next;
	json_t	   *json;			/* our reference */
} js_document;

/* Registered regular expression handle, released by js_free(). */
typedef struct js_regex_handle
{
	struct js_regex_handle *next;
	void	   *handle;
} js_regex_handle;

/* A list of compiled subschemas (allOf, anyOf, oneOf, prefixItems). */
typedef struct js_node_list
{
	js_node   **nodes;
	size_t		count;
} js_node_list;

/*
 * One compiled schema.  Absent keywords are NULL pointers, zero counts
 * or -1 limits.  Keyword names used in keyword locations are stored for
 * the keywords whose spelling depends on the dialect.
 */
struct js_node
{
	const js_resource *resource;
	bool		is_bool;
	bool		bool_value;

	/* keyword groups present, to skip whole sections quickly */
	bool		has_number;
	bool		has_string;
	bool		has_array;
	bool		has_object;
	bool		has_applicator;

	/* any type */
	unsigned	types;			/* JS_T_* bits; 0 if no "type" */
	json_t	   *enum_values;
	json_t	   *const_value;
	bool		has_const;

	/* numbers (borrowed JSON numbers) */
	json_t	   *minimum;
	json_t	   *maximum;
	json_t	   *exclusive_minimum;
	json_t	   *exclusive_maximum;
	json_t	   *multiple_of;

	/* strings */
	json_int_t	min_length;
	json_int_t	max_length;
	const char *pattern;
	void	   *pattern_regex;

	/* arrays */
	js_node_list prefix_items;
	const char *prefix_kw;		/* "prefixItems", or "items" in draft-07 */
	js_node    *items;			/* applies after the prefix items */
	const char *items_kw;		/* "items" or "additionalItems" */
	js_node    *contains;
	json_int_t	min_contains;
	json_int_t	max_contains;
	json_int_t	min_items;
	json_int_t	max_items;
	bool		unique_items;
	js_node    *unevaluated_items;

	/* objects */
	js_named_node *properties;
	size_t		nproperties;
	js_pattern_node *pattern_properties;
	size_t		npattern_properties;
	js_node    *additional_properties;
	js_node    *property_names;
	json_t	   *required;		/* array of strings, borrowed */
	js_dependency *dependent_required;
	size_t		ndependent_required;
	const char *dependent_required_kw;
	js_named_node *dependent_schemas;
	size_t		ndependent_schemas;
	const char *dependent_schemas_kw;
	json_int_t	min_properties;
	json_int_t	max_properties;
	js_node    *unevaluated_properties;

	/* in-place applicators */
	js_node_list all_of;
	js_node_list any_of;
	js_node_list one_of;
	js_node    *not_schema;
	js_node    *if_schema;
	js_node    *then_schema;
	js_node    *else_schema;
	js_node    *ref;
	js_node    *dynamic_ref;
	const char *dynamic_name;	/* anchor searched in the dynamic scope */

	unsigned char visit;		/* cycle check state, used while compiling */
};

/* The compiled schema handed to callers. */
struct js_schema
{
	js_arena	arena;
	json_t	   *document;		/* our reference to the schema JSON */
	js_draft	draft;
	js_node    *root;
	js_resource *resources;
	js_regex_handle *regexes;
	js_regex_ops regex;
	bool		has_regex;
	bool		scope_sensitive;	/* a "$dynamicRef" searches the dynamic
									 * scope: results depend on the path */
	js_document *documents;		/* other documents referred to */
	bool		loaded;			/* the load hook provided some of them */
};

/* ----------------------------------------------------------------
 * URI references (RFC 3986) -- just enough for "$id" and "$ref"
 * ----------------------------------------------------------------
 */

typedef struct js_uri
{
	const char *scheme;
	size_t		scheme_len;
	const char *authority;
	size_t		authority_len;
	const char *path;
	size_t		path_len;
	const char *query;
	size_t		query_len;
	const char *fragment;
	size_t		fragment_len;
	bool		has_scheme;
	bool		has_authority;
	bool		has_query;
	bool		has_fragment;
} js_uri;

/* Split a URI reference into its five components (RFC 3986, appendix B). */
static void
uri_parse(const char *s, js_uri *u)
{
	const char *p = s;

	memset(u, 0, sizeof(*u));
	if (isalpha((unsigned char) *p))
	{
		const char *q = p;

		while (isalnum((unsigned char) *q) || *q == '+' || *q == '-' || *q == '.')
			q++;
		if (*q == ':')
		{
			u->has_scheme = true;
			u->scheme = p;
			u->scheme_len = (size_t) (q - p);
			p = q + 1;
		}
	}
	if (p[0] == '/' && p[1] == '/')
	{
		p += 2;
		u->has_authority = true;
		u->authority = p;
		while (*p && *p != '/' && *p != '?' && *p != '#')
			p++;
		u->authority_len = (size_t) (p - u->authority);
	}
	u->path = p;
	while (*p && *p != '?' && *p != '#')
		p++;
	u->path_len = (size_t) (p - u->path);
	if (*p == '?')
	{
		u->has_query = true;
		u->query = ++p;
		while (*p && *p != '#')
			p++;
		u->query_len = (size_t) (p - u->query);
	}
	if (*p == '#')
	{
		u->has_fragment = true;
		u->fragment = p + 1;
		u->fragment_len = strlen(p + 1);
	}
}

/*
 * Append "path" to "out" with "." and ".." segments removed
 * (RFC 3986 section 5.2.4).
 */
static void
buf_remove_dots(js_buf *out, const char *path, size_t len)
{
	const char *p = path;
	const char *end = path + len;
	size_t		base = out->len;

	while (p < end && !out->failed)
	{
		size_t		rest = (size_t) (end - p);

		if (rest >= 3 && strncmp(p, "../", 3) == 0)
			p += 3;
		else if (rest >= 2 && strncmp(p, "./", 2) == 0)
			p += 2;
		else if (rest >= 3 && strncmp(p, "/./", 3) == 0)
			p += 2;
		else if (rest == 2 && strncmp(p, "/.", 2) == 0)
		{
			buf_append(out, "/", 1);
			p += 2;
		}
		else if ((rest >= 4 && strncmp(p, "/../", 4) == 0) ||
				 (rest == 3 && strncmp(p, "/..", 3) == 0))
		{
			/* drop the last output segment */
			while (out->len > base && out->data[out->len - 1] != '/')
				out->len--;
			if (out->len > base)
				out->len--;
			if (out->data)
				out->data[out->len] = '\0';
			if (rest == 3)
				buf_append(out, "/", 1);
			p += 3;
		}
		else if ((rest == 1 && *p == '.') || (rest == 2 && strncmp(p, "..", 2) == 0))
			p = end;
		else
		{
			const char *q = p + 1;

			while (q < end && *q != '/')
				q++;
			buf_append(out, p, (size_t) (q - p));
			p = q;
		}
	}
}

/*
 * Resolve reference "ref" against base URI "base" (RFC 3986 section
 * 5.2.2) and return the result as an allocated string.  An empty base
 * stands for an anonymous document; the result is then relative.
 */
static char *
uri_resolve(const char *base, const char *ref)
{
	js_uri		b;
	js_uri		r;
	js_buf		out = {0};
	const js_uri *auth_from = &b;

	uri_parse(base, &b);
	uri_parse(ref, &r);
	if (r.has_scheme)
	{
		buf_append(&out, r.scheme, r.scheme_len);
		buf_append(&out, ":", 1);
		auth_from = &r;
	}
	else if (b.has_scheme)
	{
		buf_append(&out, b.scheme, b.scheme_len);
		buf_append(&out, ":", 1);
		if (r.has_authority)
			auth_from = &r;
	}
	else if (r.has_authority)
		auth_from = &r;
	if (auth_from->has_authority)
	{
		buf_append(&out, "//", 2);
		buf_append(&out, auth_from->authority, auth_from->authority_len);
	}
	if (auth_from == &r)
	{
		buf_remove_dots(&out, r.path, r.path_len);
		if (r.has_query)
		{
			buf_append(&out, "?", 1);
			buf_append(&out, r.query, r.query_len);
		}
	}
	else if (r.path_len == 0)
	{
		buf_append(&out, b.path, b.path_len);
		if (r.has_query || b.has_query)
		{
			buf_append(&out, "?", 1);
			if (r.has_query)
				buf_append(&out, r.query, r.query_len);
			else
				buf_append(&out, b.query, b.query_len);
		}
	}
	else
	{
		js_buf		merged = {0};

		if (r.path[0] == '/')
			buf_append(&merged, r.path, r.path_len);
		else
		{
			const char *slash = NULL;
			size_t		i;

			for (i = 0; i < b.path_len; i++)
				if (b.path[i] == '/')
					slash = b.path + i;
			if (b.has_authority && b.path_len == 0)
				buf_append(&merged, "/", 1);
			else if (slash)
				buf_append(&merged, b.path, (size_t) (slash - b.path) + 1);
			buf_append(&merged, r.path, r.path_len);
		}
		if (merged.failed)
			out.failed = true;
		else if (merged.data)
			buf_remove_dots(&out, merged.data, merged.len);
		js_mem_free(merged.data);
		if (r.has_query)
		{
			buf_append(&out, "?", 1);
			buf_append(&out, r.query, r.query_len);
		}
	}
	if (r.has_fragment)
	{
		buf_append(&out, "#", 1);
		buf_append(&out, r.fragment, r.fragment_len);
	}
	return buf_finish(&out);
}

/* Decode %XX escapes of a URI fragment into an allocated string. */
static char *
percent_decode(const char *s, size_t len, size_t *outlen)
{
	char	   *out = js_mem_alloc(len + 1);
	size_t		i;
	size_t		n = 0;

	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++)
	{
		if (s[i] == '%' && i + 2 < len &&
			isxdigit((unsigned char) s[i + 1]) && isxdigit((unsigned char) s[i + 2]))
		{
			char		hex[3] = {s[i + 1], s[i + 2], '\0'};

			out[n++] = (char) strtol(hex, NULL, 16);
			i += 2;
		}
		else
			out[n++] = s[i];
	}
	out[n] = '\0';
	*outlen = n;
	return out;
}

/* ----------------------------------------------------------------
 * Map from (owner, name) to a pointer: resources by URI (owner NULL),
 * anchors by resource and name.  Names are borrowed (arena strings).
 * ----------------------------------------------------------------
 */

typedef struct js_name_entry
{
	const void *owner;
	const char *name;			/* NULL: free slot */
	size_t		len;
	void	   *value;
} js_name_entry;

typedef struct js_name_map
{
	js_name_entry *slots;
	size_t		cap;			/* power of two, or 0 */
	size_t		count;
} js_name_map;

/* Hash of a name map key. */
static size_t
name_hash(const void *owner, const char *name, size_t len)
{
	return (size_t) hash_mix(hash_bytes(name, len), (uint64_t) (uintptr_t) owner);
}

/* The value stored for (owner, name), or NULL. */
static void *
name_map_get(const js_name_map *map, const void *owner, const char *name, size_t len)
{
	size_t		i;

	if (map->cap == 0)
		return NULL;
	for (i = name_hash(owner, name, len) & (map->cap - 1); map->slots[i].name;
		 i = (i + 1) & (map->cap - 1))
	{
		const js_name_entry *e = &map->slots[i];

		if (e->owner == owner && e->len == len && memcmp(e->name, name, len) == 0)
			return e->value;
	}
	return NULL;
}

/* Store a value for (owner, name), which must not be there yet. */
static bool
name_map_put(js_name_map *map, const void *owner, const char *name, size_t len,
			 void *value)
{
	size_t		i;

	if ((map->count + 1) * 2 > map->cap)
	{
		size_t		newcap = map->cap ? map->cap * 2 : 64;
		js_name_entry *slots = js_mem_alloc(newcap * sizeof(js_name_entry));

		if (slots == NULL)
			return false;
		memset(slots, 0, newcap * sizeof(js_name_entry));
		for (i = 0; i < map->cap; i++)
		{
			size_t		j;
			const js_name_entry *e = &map->slots[i];

			if (e->name == NULL)
				continue;
			for (j = name_hash(e->owner, e->name, e->len) & (newcap - 1); slots[j].name;
				 j = (j + 1) & (newcap - 1))
				;
			slots[j] = *e;
		}
		js_mem_free(map->slots);
		map->slots = slots;
		map->cap = newcap;
	}
	for (i = name_hash(owner, name, len) & (map->cap - 1); map->slots[i].name;
		 i = (i + 1) & (map->cap - 1))
		;
	map->slots[i].owner = owner;
	map->slots[i].name = name;
	map->slots[i].len = len;
	map->slots[i].value = value;
	map->count++;
	return true;
}

/* Release a name map. */
static void
name_map_free(js_name_map *map)
{
	js_mem_free(map->slots);
	memset(map, 0, sizeof(*map));
}

/* ----------------------------------------------------------------
 * Compilation context and errors
 * ----------------------------------------------------------------
 */

/* Dialect masks for keyword tables. */
#define JS_D2020	0x01
#define JS_D7		0x02
#define JS_DALL		(JS_D2020 | JS_D7)

/* A reference whose target still has to be compiled. */
typedef struct js_pending
{
	js_node   **slot;
	json_t	   *target;
	const js_resource *resource;
} js_pending;

/* Vocabularies of draft 2020-12 that a custom meta-schema may leave out. */
#define JS_V_APPLICATOR		0x01
#define JS_V_UNEVALUATED	0x02
#define JS_V_VALIDATION		0x04
#define JS_V_ALL			(JS_V_APPLICATOR | JS_V_UNEVALUATED | JS_V_VALIDATION)

typedef struct js_cctx
{
	js_schema  *schema;
	js_draft	draft;
	unsigned	vocab;			/* JS_V_* of the schema's own document */
	json_t	   *(*load) (void *arg, const char *uri);
	void	   *load_arg;
	/* cost accounting, as in validation (see js_compile_options) */
	unsigned long long steps;
	unsigned long long max_steps;
	unsigned long long next_interrupt;
	int			(*interrupt) (void *arg);
	void	   *interrupt_arg;
	const char *failure;		/* "budget" or "interrupted" once stopped */
	js_ptr_map	nodes;			/* json_t * -> js_node * */
	js_ptr_map	resources;		/* resource root json_t * -> js_resource * */
	js_name_map names;			/* URIs -> resources, names -> anchors */
	js_pending *pending;
	size_t		npending;
	size_t		pending_cap;
	char	   *errmsg;
	bool		oom;
} js_cctx;

/* Return the dialect mask bit of the context's draft. */
static unsigned
draft_bit(const js_cctx *cc)
{
	return cc->draft == JS_DRAFT_7 ? JS_D7 : JS_D2020;
}

/*
 * Record a compilation error (only the first one is kept): the formatted
 * detail followed by the schema location.  Always returns false.
 */
static bool compile_error(js_cctx *cc, const js_path *path, const char *fmt,...) JS_PRINTF(3, 4);
static bool
compile_error(js_cctx *cc, const js_path *path, const char *fmt,...)
{
	js_buf		buf = {0};
	va_list		ap;

	if (cc->errmsg || cc->oom)
		return false;
	va_start(ap, fmt);
	buf_vprintf(&buf, fmt, ap);
	va_end(ap);
	if (path)
	{
		buf_puts(&buf, " at schema location \"");
		buf_path(&buf, path);
		buf_puts(&buf, "\"");
	}
	cc->errmsg = buf_finish(&buf);
	if (cc->errmsg == NULL)
		cc->oom = true;
	return false;
}

/* Record an out-of-memory failure.  Always returns false. */
static bool
compile_oom(js_cctx *cc)
{
	cc->oom = true;
	return false;
}

/*
 * Count "n" steps of compilation: false, with the error recorded, once the
 * budget is exhausted or the interrupt hook stops compilation (and from
 * then on).  Steps are the schema objects walked and the identifiers,
 * anchors and pointer tokens compared or followed.
 */
static bool
cc_charge(js_cctx *cc, unsigned long long n)
{
	if (cc->failure)
		return false;
	cc->steps += n;
	if (cc->max_steps && cc->steps > cc->max_steps)
	{
		cc->failure = "budget";
		compile_error(cc, NULL, "compiling the schema exceeded its budget of %llu steps",
					  cc->max_steps);
		return false;
	}
	if (cc->interrupt && cc->steps >= cc->next_interrupt)
	{
		cc->next_interrupt = cc->steps + JS_INTERRUPT_STEPS;
		if (cc->interrupt(cc->interrupt_arg))
		{
			cc->failure = "interrupted";
			compile_error(cc, NULL, "compilation was interrupted");
			return false;
		}
	}
	return true;
}

/* Fetch keyword "kw" from schema object "s" if the dialect knows it. */
static json_t *
kw_get(const js_cctx *cc, const json_t *s, const char *kw, unsigned drafts)
{
	if ((drafts & draft_bit(cc)) == 0)
		return NULL;
	return json_object_get(s, kw);
}

/* ----------------------------------------------------------------
 * Registration walk: schema resources and anchors
 * ----------------------------------------------------------------
 */

/* How a keyword holds subschemas. */
typedef enum js_sub_kind
{
	JS_SUB_ONE,					/* a schema */
	JS_SUB_ARRAY,				/* an array of schemas */
	JS_SUB_MAP,					/* an object whose values are schemas */
	JS_SUB_ONE_OR_ARRAY,		/* draft-07 "items" */
	JS_SUB_DEPS					/* draft-07 "dependencies" */
} js_sub_kind;

static const struct
{
	const char *keyword;
	js_sub_kind kind;
	unsigned	drafts;
}			js_subschema_keywords[] =
{
	{"$defs", JS_SUB_MAP, JS_D2020},
	{"definitions", JS_SUB_MAP, JS_D7},
	{"properties", JS_SUB_MAP, JS_DALL},
	{"patternProperties", JS_SUB_MAP, JS_DALL},
	{"dependentSchemas", JS_SUB_MAP, JS_D2020},
	{"dependencies", JS_SUB_DEPS, JS_D7},
	{"additionalProperties", JS_SUB_ONE, JS_DALL},
	{"propertyNames", JS_SUB_ONE, JS_DALL},
	{"unevaluatedProperties", JS_SUB_ONE, JS_D2020},
	{"items", JS_SUB_ONE, JS_D2020},
	{"items", JS_SUB_ONE_OR_ARRAY, JS_D7},
	{"prefixItems", JS_SUB_ARRAY, JS_D2020},
	{"additionalItems", JS_SUB_ONE, JS_D7},
	{"contains", JS_SUB_ONE, JS_DALL},
	{"unevaluatedItems", JS_SUB_ONE, JS_D2020},
	{"allOf", JS_SUB_ARRAY, JS_DALL},
	{"anyOf", JS_SUB_ARRAY, JS_DALL},
	{"oneOf", JS_SUB_ARRAY, JS_DALL},
	{"not", JS_SUB_ONE, JS_DALL},
	{"if", JS_SUB_ONE, JS_DALL},
	{"then", JS_SUB_ONE, JS_DALL},
	{"else", JS_SUB_ONE, JS_DALL},
};

/*
 * Find a registered resource by absolute URI (without fragment); NULL if
 * there is none (or cc_charge() failed).
 */
static js_resource *
find_resource(js_cctx *cc, const char *uri, size_t len)
{
	if (!cc_charge(cc, 1))
		return NULL;
	return name_map_get(&cc->names, NULL, uri, len);
}

/* Create and register a resource rooted at "root" with URI "uri". */
static js_resource *
add_resource(js_cctx *cc, json_t *root, const char *uri, size_t len,
			 const js_path *path)
{
	js_resource *r;

	if (find_resource(cc, uri, len))
	{
		compile_error(cc, path, "duplicate schema identifier \"%.*s\"",
					  (int) len, uri);
		return NULL;
	}
	r = arena_alloc(&cc->schema->arena, sizeof(*r));
	if (r == NULL || (r->uri = arena_strndup(&cc->schema->arena, uri, len)) == NULL ||
		!ptr_map_put(&cc->resources, root, r) ||
		!name_map_put(&cc->names, NULL, r->uri, len, r))
	{
		compile_oom(cc);
		return NULL;
	}
	r->root = root;
	r->next = cc->schema->resources;
	cc->schema->resources = r;
	return r;
}

/* Is "name" a valid plain-name anchor (XML NCName-like, as 2020-12 says)? */
static bool
valid_anchor_name(const char *name)
{
	const char *p;

	if (!isalpha((unsigned char) name[0]) && name[0] != '_')
		return false;
	for (p = name + 1; *p; p++)
	{
		if (!isalnum((unsigned char) *p) && *p != '-' && *p != '.' && *p != '_')
			return false;
	}
	return true;
}

/* Register an anchor named "name" for "target" in resource "res". */
static bool
add_anchor(js_cctx *cc, js_resource *res, const char *name, size_t len,
		   json_t *target, bool dynamic, const js_path *path)
{
	js_anchor  *a;

	if (!cc_charge(cc, 1))
		return false;
	if ((a = name_map_get(&cc->names, res, name, len)) != NULL)
	{
		/* "$anchor" and "$dynamicAnchor" of one schema may coincide */
		if (a->target == target)
		{
			a->dynamic |= dynamic;
			res->dynamic |= dynamic;
			return true;
		}
		return compile_error(cc, path, "duplicate anchor \"%.*s\"",
							 (int) len, name);
	}
	a = arena_alloc(&cc->schema->arena, sizeof(*a));
	if (a == NULL || (a->name = arena_strndup(&cc->schema->arena, name, len)) == NULL ||
		!name_map_put(&cc->names, res, a->name, len, a))
		return compile_oom(cc);
	a->target = target;
	a->dynamic = dynamic;
	a->next = res->anchors;
	res->anchors = a;
	res->dynamic |= dynamic;
	return true;
}

/*
 * Handle "$id" of schema object "s": register a new resource (stored in
 * *res) or, for a draft-07 fragment-only "$id", an anchor.
 */
static bool
register_id(js_cctx *cc, json_t *s, js_resource **res, const js_path *path)
{
	json_t	   *id = json_object_get(s, "$id");
	char	   *full;
	const char *hash;
	size_t		doclen;
	bool		ok = true;

	if (id == NULL || (cc->draft == JS_DRAFT_7 && json_object_get(s, "$ref")))
		return true;
	if (!json_is_string(id))
		return compile_error(cc, path, "\"$id\" must be a string");
	full = uri_resolve((*res)->uri, json_string_value(id));
	if (full == NULL)
		return compile_oom(cc);
	hash = strchr(full, '#');
	doclen = hash ? (size_t) (hash - full) : strlen(full);
	if (cc->draft == JS_DRAFT_7 && json_string_value(id)[0] == '#')
	{
		if (hash[1] != '\0')
			ok = add_anchor(cc, *res, hash + 1, strlen(hash + 1), s, false, path);
	}
	else if (hash && hash[1] != '\0' && cc->draft != JS_DRAFT_7)
		ok = compile_error(cc, path,
						   "\"$id\" must not contain a non-empty fragment");
	else if ((*res)->root == s && strlen((*res)->uri) == doclen &&
			 memcmp((*res)->uri, full, doclen) == 0)
	{
		/* a loaded document identifying itself by the URI it came by */
		if (hash && hash[1] != '\0')
			ok = add_anchor(cc, *res, hash + 1, strlen(hash + 1), s, false, path);
	}
	else
	{
		js_resource *r = add_resource(cc, s, full, doclen, path);

		ok = (r != NULL);
		if (ok)
		{
			r->foreign = (*res)->foreign;
			*res = r;
		}
		if (ok && hash && hash[1] != '\0')
			ok = add_anchor(cc, r, hash + 1, strlen(hash + 1), s, false, path);
	}
	js_mem_free(full);
	return ok;
}

/* Handle "$anchor" or "$dynamicAnchor" of schema object "s" (2020-12). */
static bool
register_anchor(js_cctx *cc, json_t *s, js_resource *res, const char *kw,
				const js_path *path)
{
	json_t	   *v = json_object_get(s, kw);

	if (v == NULL)
		return true;
	if (!json_is_string(v) || !valid_anchor_name(json_string_value(v)))
		return compile_error(cc, path, "\"%s\" must be a string of the form "
							 "letter or \"_\" followed by letters, digits, "
							 "\"-\", \".\" or \"_\"", kw);
	return add_anchor(cc, res, json_string_value(v), json_string_length(v), s,
					  strcmp(kw, "$dynamicAnchor") == 0, path);
}

static bool register_walk(js_cctx *cc, json_t *s, js_resource *res,
						  const js_path *path, int depth);

/* Walk the subschemas held by keyword value "v" of the given kind. */
static bool
register_keyword(js_cctx *cc, json_t *v, js_sub_kind kind, js_resource *res,
				 const js_path *path, int depth)
{
	size_t		i;
	const char *key;
	size_t		klen;
	json_t	   *child;

	if (json_is_array(v) && (kind == JS_SUB_ARRAY || kind == JS_SUB_ONE_OR_ARRAY))
	{
		json_array_foreach(v, i, child)
		{
			js_path		p = path_index(path, i);

			if (!register_walk(cc, child, res, &p, depth + 1))
				return false;
		}
	}
	else if (json_is_object(v) && (kind == JS_SUB_MAP || kind == JS_SUB_DEPS))
	{
		json_object_keylen_foreach(v, key, klen, child)
		{
			js_path		p = path_key(path, key, klen);

			if (!register_walk(cc, child, res, &p, depth + 1))
				return false;
		}
	}
	else if (kind == JS_SUB_ONE || kind == JS_SUB_ONE_OR_ARRAY)
		return register_walk(cc, v, res, path, depth + 1);
	return true;
}

/*
 * Register the resources and anchors of schema "s" and its subschemas.
 * Only values in schema positions are visited, so an "$id" inside "enum"
 * or an unknown keyword is not an identifier.
 */
static bool
register_walk(js_cctx *cc, json_t *s, js_resource *res, const js_path *path,
			  int depth)
{
	size_t		i;

	if (!json_is_object(s))
		return true;
	if (depth > JS_MAX_DEPTH)
		return compile_error(cc, path, "schema is nested more than %d levels deep",
							 JS_MAX_DEPTH);
	if (!cc_charge(cc, 1) || !register_id(cc, s, &res, path))
		return false;
	if (cc->draft != JS_DRAFT_7 &&
		(!register_anchor(cc, s, res, "$anchor", path) ||
		 !register_anchor(cc, s, res, "$dynamicAnchor", path)))
		return false;
	for (i = 0; i < sizeof(js_subschema_keywords) / sizeof(js_subschema_keywords[0]); i++)
	{
		json_t	   *v;
		js_path		p;

		v = kw_get(cc, s, js_subschema_keywords[i].keyword,
				   js_subschema_keywords[i].drafts);
		if (v == NULL)
			continue;
		p = path_kw(path, js_subschema_keywords[i].keyword);
		if (!register_keyword(cc, v, js_subschema_keywords[i].kind, res, &p, depth))
			return false;
	}
	return true;
}

/* ----------------------------------------------------------------
 * Reference resolution
 * ----------------------------------------------------------------
 */

/*
 * Follow JSON pointer "ptr" (already percent-decoded) from the root of
 * resource *res.  On success store the target and update *res to the
 * innermost resource entered on the way.
 */
static bool
follow_pointer(js_cctx *cc, const char *ptr, size_t len, js_resource **res,
			   json_t **target)
{
	json_t	   *cur = (*res)->root;
	size_t		i = 0;

	while (i < len)
	{
		js_buf		tok = {0};
		js_resource *r;

		if (ptr[i] != '/' || !cc_charge(cc, 1))
			return false;
		for (i++; i < len && ptr[i] != '/'; i++)
		{
			if (ptr[i] == '~' && i + 1 < len && (ptr[i + 1] == '0' || ptr[i + 1] == '1'))
			{
				buf_append(&tok, ptr[i + 1] == '0' ? "~" : "/", 1);
				i++;
			}
			else
				buf_append(&tok, ptr + i, 1);
		}
		if (tok.failed)
		{
			js_mem_free(tok.data);
			return compile_oom(cc);
		}
		if (json_is_object(cur))
			cur = json_object_getn(cur, tok.data ? tok.data : "", tok.len);
		else if (json_is_array(cur) && tok.len > 0 && tok.len < 19 &&
				 strspn(tok.data, "0123456789") == tok.len &&
				 (tok.len == 1 || tok.data[0] != '0'))
			cur = json_array_get(cur, (size_t) strtoull(tok.data, NULL, 10));
		else
			cur = NULL;
		js_mem_free(tok.data);
		if (cur == NULL)
			return false;
		r = ptr_map_get(&cc->resources, cur);
		if (r)
			*res = r;
	}
	*target = cur;
	return true;
}

/*
 * Fetch the document whose absolute URI (no fragment) is the "len" bytes
 * at "uri": a built-in meta-schema, else what the load hook gives.
 * Returns a new reference, kept in the schema's list of documents, or
 * NULL (no error recorded, but on out of memory).
 */
static json_t *
fetch_document(js_cctx *cc, const char *uri, size_t len)
{
	const char *text = js_builtin_document(uri, len);
	json_t	   *doc = NULL;
	js_document *d;

	if (text)
		doc = json_loads(text, 0, NULL);
	else if (cc->load)
	{
		char	   *copy = js_mem_alloc(len + 1);

		if (copy == NULL)
		{
			compile_oom(cc);
			return NULL;
		}
		memcpy(copy, uri, len);
		copy[len] = '\0';
		doc = cc->load(cc->load_arg, copy);
		js_mem_free(copy);
		cc->schema->loaded = true;
	}
	if (doc == NULL)
	{
		if (text)
			compile_oom(cc);
		return NULL;
	}
	d = arena_alloc(&cc->schema->arena, sizeof(*d));
	if (d == NULL)
	{
		json_decref(doc);
		compile_oom(cc);
		return NULL;
	}
	d->json = doc;
	d->next = cc->schema->documents;
	cc->schema->documents = d;
	return doc;
}

/*
 * Make the document with absolute URI "uri" ("len" bytes) a resource of
 * the schema, with the resources and anchors inside it.  Returns it, or
 * NULL with an error recorded.
 */
static js_resource *
load_document(js_cctx *cc, const char *uri, size_t len, const char *ref,
			  const js_path *path)
{
	json_t	   *doc = fetch_document(cc, uri, len);
	js_resource *r;

	if (doc == NULL)
	{
		if (!cc->oom)
			compile_error(cc, path, "cannot resolve reference \"%s\": "
						  "no schema document \"%.*s\" is known", ref, (int) len, uri);
		return NULL;
	}
	if ((r = add_resource(cc, doc, uri, len, path)) == NULL)
		return NULL;
	r->foreign = true;
	if (!register_walk(cc, doc, r, NULL, 0))
		return NULL;
	return r;
}

/*
 * Resolve reference "ref" found in resource "res" to a schema value.
 * Stores the target, its resource, and the anchor it names if any.
 */
static bool
resolve_reference(js_cctx *cc, const js_resource *res, const char *ref,
				  const js_path *path, json_t **target,
				  const js_resource **target_res, js_anchor **anchor)
{
	char	   *full = uri_resolve(res->uri, ref);
	const char *hash;
	size_t		doclen;
	js_resource *r;
	bool		ok = true;

	*anchor = NULL;
	if (full == NULL)
		return compile_oom(cc);
	hash = strchr(full, '#');
	doclen = hash ? (size_t) (hash - full) : strlen(full);
	r = find_resource(cc, full, doclen);
	if (r == NULL && doclen > 0)
		r = load_document(cc, full, doclen, ref, path);
	else if (r == NULL)
		compile_error(cc, path, "cannot resolve reference \"%s\": "
					  "no base URI to resolve it against", ref);
	if (r == NULL)
		ok = false;
	else if (hash == NULL || hash[1] == '\0')
		*target = r->root;
	else
	{
		size_t		flen;
		char	   *frag = percent_decode(hash + 1, strlen(hash + 1), &flen);

		if (frag == NULL)
			ok = compile_oom(cc);
		else if (frag[0] == '/')
		{
			ok = follow_pointer(cc, frag, flen, &r, target);
			if (!ok && !cc->oom)
				compile_error(cc, path, "cannot resolve reference \"%s\": "
							  "no such location in the document", ref);
		}
		else
		{
			js_anchor  *a = cc_charge(cc, 1) ?
				name_map_get(&cc->names, r, frag, flen) : NULL;

			if (cc->failure)
				ok = false;
			else if (a == NULL)
				ok = compile_error(cc, path, "cannot resolve reference \"%s\": "
								   "no such anchor", ref);
			else
			{
				*target = a->target;
				*anchor = a;
			}
		}
		js_mem_free(frag);
	}
	js_mem_free(full);
	*target_res = r;
	return ok;
}

/*
 * Point *slot at the node compiled for "target", now if it exists, else
 * once the pending queue is processed.
 */
static bool
link_node(js_cctx *cc, js_node **slot, json_t *target, const js_resource *res)
{
	js_node    *n = ptr_map_get(&cc->nodes, target);

	if (n)
	{
		*slot = n;
		return true;
	}
	if (cc->npending == cc->pending_cap)
	{
		size_t		newcap = cc->pending_cap ? cc->pending_cap * 2 : 16;
		js_pending *p = js_mem_alloc(newcap * sizeof(*p));

		if (p == NULL)
			return compile_oom(cc);
		if (cc->pending)
			memcpy(p, cc->pending, cc->npending * sizeof(*p));
		js_mem_free(cc->pending);
		cc->pending = p;
		cc->pending_cap = newcap;
	}
	cc->pending[cc->npending].slot = slot;
	cc->pending[cc->npending].target = target;
	cc->pending[cc->npending].resource = res;
	cc->npending++;
	return true;
}

/* ----------------------------------------------------------------
 * Compilation of keywords
 * ----------------------------------------------------------------
 */

static js_node *compile_schema(js_cctx *cc, json_t *s, const js_resource *res,
							   const js_path *path, int depth);
static void restrict_vocabularies(const js_cctx *cc, js_node *node, const json_t *s);

/*
 * Read a non-negative integer keyword (1.0 counts as an integer) into
 * *out, leaving -1 when absent.
 */
static bool
get_count(js_cctx *cc, const json_t *s, const char *kw, unsigned drafts,
		  const js_path *path, json_int_t *out)
{
	json_t	   *v = kw_get(cc, s, kw, drafts);
	js_path		p;

	*out = -1;
	if (v == NULL)
		return true;
	p = path_kw(path, kw);
	if (!json_as_int(v, out) || *out < 0)
	{
		*out = -1;
		return compile_error(cc, &p, "\"%s\" must be a non-negative integer", kw);
	}
	return true;
}

/* Read a numeric keyword into *out (NULL when absent). */
static bool
get_number(js_cctx *cc, const json_t *s, const char *kw, const js_path *path,
		   json_t **out)
{
	json_t	   *v = json_object_get(s, kw);
	js_path		p;

	*out = NULL;
	if (v == NULL)
		return true;
	p = path_kw(path, kw);
	if (!json_is_number(v))
		return compile_error(cc, &p, "\"%s\" must be a number", kw);
	*out = v;
	return true;
}

/* Compile the single subschema of keyword "kw" into *out (NULL if absent). */
static bool
compile_child(js_cctx *cc, const json_t *s, const char *kw, unsigned drafts,
			  const js_resource *res, const js_path *path, int depth,
			  js_node **out)
{
	json_t	   *v = kw_get(cc, s, kw, drafts);
	js_path		p;

	*out = NULL;
	if (v == NULL)
		return true;
	p = path_kw(path, kw);
	*out = compile_schema(cc, v, res, &p, depth + 1);
	return *out != NULL;
}

/* Compile an array of subschemas "v" (keyword "kw") into a node list. */
static bool
compile_list(js_cctx *cc, json_t *v, const char *kw, bool nonempty,
			 const js_resource *res, const js_path *path, int depth,
			 js_node_list *out)
{
	js_path		p = path_kw(path, kw);
	size_t		i;

	if (!json_is_array(v) || (nonempty && json_array_size(v) == 0))
		return compile_error(cc, &p, "\"%s\" must be %s array of schemas", kw,
							 nonempty ? "a non-empty" : "an");
	out->count = json_array_size(v);
	out->nodes = arena_array(&cc->schema->arena, out->count, sizeof(js_node *));
	if (out->nodes == NULL)
		return compile_oom(cc);
	for (i = 0; i < out->count; i++)
	{
		js_path		ip = path_index(&p, i);

		out->nodes[i] = compile_schema(cc, json_array_get(v, i), res, &ip, depth + 1);
		if (out->nodes[i] == NULL)
			return false;
	}
	return true;
}

/* Order names by bytes, then length, for binary search. */
static int
name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int			c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

/* qsort comparator for js_named_node. */
static int
named_node_cmp(const void *a, const void *b)
{
	const js_named_node *x = a;
	const js_named_node *y = b;

	return name_cmp(x->name, x->len, y->name, y->len);
}

/* Compile an object of subschemas "v" (keyword "kw") into a sorted array. */
static bool
compile_map(js_cctx *cc, json_t *v, const char *kw, const js_resource *res,
			const js_path *path, int depth, js_named_node **out, size_t *count)
{
	js_path		p = path_kw(path, kw);
	const char *key;
	size_t		klen;
	json_t	   *child;
	size_t		i = 0;

	if (!json_is_object(v))
		return compile_error(cc, &p, "\"%s\" must be an object", kw);
	*out = arena_array(&cc->schema->arena, json_object_size(v), sizeof(js_named_node));
	if (*out == NULL)
		return compile_oom(cc);
	json_object_keylen_foreach(v, key, klen, child)
	{
		js_path		kp = path_key(&p, key, klen);

		(*out)[i].name = key;
		(*out)[i].len = klen;
		(*out)[i].node = compile_schema(cc, child, res, &kp, depth + 1);
		if ((*out)[i].node == NULL)
			return false;
		i++;
	}
	*count = i;
	qsort(*out, i, sizeof(js_named_node), named_node_cmp);
	return true;
}

/* Binary-search a sorted js_named_node array. */
static const js_named_node *
find_named(const js_named_node *arr, size_t n, const char *name, size_t len)
{
	size_t		lo = 0;
	size_t		hi = n;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;
		int			c = name_cmp(name, len, arr[mid].name, arr[mid].len);

		if (c == 0)
			return &arr[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Compile a regular expression through the caller's hooks. */
static void *
compile_regex(js_cctx *cc, const char *pattern, const js_path *path)
{
	js_schema  *schema = cc->schema;
	char	   *msg = NULL;
	void	   *handle;
	js_regex_handle *h;

	if (!schema->has_regex)
	{
		compile_error(cc, path, "regular expressions are not available");
		return NULL;
	}
	handle = schema->regex.compile(schema->regex.arg, pattern, &msg);
	if (handle == NULL)
	{
		compile_error(cc, path, "invalid regular expression \"%s\": %s",
					  pattern, msg ? msg : "cannot compile");
		js_mem_free(msg);
		return NULL;
	}
	h = arena_alloc(&schema->arena, sizeof(*h));
	if (h == NULL)
	{
		schema->regex.release(schema->regex.arg, handle);
		compile_oom(cc);
		return NULL;
	}
	h->handle = handle;
	h->next = schema->regexes;
	schema->regexes = h;
	return handle;
}

/* Map a type name to its JS_T_* bit, or 0 if unknown. */
static unsigned
type_bit(const char *name)
{
	static const struct
	{
		const char *name;
		unsigned	bit;
	}			types[] =
	{
		{"null", JS_T_NULL}, {"boolean", JS_T_BOOLEAN}, {"object", JS_T_OBJECT},
		{"array", JS_T_ARRAY}, {"number", JS_T_NUMBER}, {"string", JS_T_STRING},
		{"integer", JS_T_INTEGER},
	};
	size_t		i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(name, types[i].name) == 0)
			return types[i].bit;
	return 0;
}

/* Compile "type", "enum" and "const". */
static bool
compile_generic(js_cctx *cc, js_node *node, const json_t *s, const js_path *path)
{
	json_t	   *v = json_object_get(s, "type");
	js_path		p = path_kw(path, "type");

	if (json_is_string(v))
		node->types = type_bit(json_string_value(v));
	else if (json_is_array(v) && json_array_size(v) > 0)
	{
		size_t		i;
		json_t	   *t;

		json_array_foreach(v, i, t)
		{
			unsigned	bit = json_is_string(t) ? type_bit(json_string_value(t)) : 0;

			if (bit == 0 || (node->types & bit))
			{
				node->types = 0;
				break;
			}
			node->types |= bit;
		}
	}
	if (v && node->types == 0)
		return compile_error(cc, &p, "\"type\" must be a type name or an array "
							 "of distinct type names");
	v = json_object_get(s, "enum");
	p = path_kw(path, "enum");
	if (v && !json_is_array(v))
		return compile_error(cc, &p, "\"enum\" must be an array");
	node->enum_values = v;
	node->const_value = json_object_get(s, "const");
	node->has_const = node->const_value != NULL;
	return true;
}

/* Compile the numeric keywords. */
static bool
compile_numeric(js_cctx *cc, js_node *node, const json_t *s, const js_path *path)
{
	if (!get_number(cc, s, "minimum", path, &node->minimum) ||
		!get_number(cc, s, "maximum", path, &node->maximum) ||
		!get_number(cc, s, "exclusiveMinimum", path, &node->exclusive_minimum) ||
		!get_number(cc, s, "exclusiveMaximum", path, &node->exclusive_maximum) ||
		!get_number(cc, s, "multipleOf", path, &node->multiple_of))
		return false;
	if (node->multiple_of && json_number_value(node->multiple_of) <= 0)
	{
		js_path		p = path_kw(path, "multipleOf");

		return compile_error(cc, &p, "\"multipleOf\" must be greater than 0");
	}
	node->has_number = node->minimum || node->maximum || node->exclusive_minimum ||
		node->exclusive_maximum || node->multiple_of;
	return true;
}

/* Compile the string keywords. */
static bool
compile_string(js_cctx *cc, js_node *node, const json_t *s, const js_path *path)
{
	json_t	   *v = json_object_get(s, "pattern");

	if (!get_count(cc, s, "minLength", JS_DALL, path, &node->min_length) ||
		!get_count(cc, s, "maxLength", JS_DALL, path, &node->max_length))
		return false;
	if (v)
	{
		js_path		p = path_kw(path, "pattern");

		if (!json_is_string(v))
			return compile_error(cc, &p, "\"pattern\" must be a string");
		node->pattern = json_string_value(v);
		node->pattern_regex = compile_regex(cc, node->pattern, &p);
		if (node->pattern_regex == NULL)
			return false;
	}
	node->has_string = node->min_length >= 0 || node->max_length >= 0 || node->pattern;
	return true;
}

/* Compile "items" and friends, whose shape depends on the dialect. */
static bool
compile_items(js_cctx *cc, js_node *node, const json_t *s,
			  const js_resource *res, const js_path *path, int depth)
{
	json_t	   *items = json_object_get(s, "items");
	json_t	   *prefix;

	if (cc->draft == JS_DRAFT_7)
	{
		node->prefix_kw = "items";
		if (json_is_array(items))
		{
			node->items_kw = "additionalItems";
			return compile_list(cc, items, "items", false, res, path, depth,
								&node->prefix_items) &&
				compile_child(cc, s, "additionalItems", JS_D7, res, path, depth,
							  &node->items);
		}
		node->items_kw = "items";
		return compile_child(cc, s, "items", JS_D7, res, path, depth, &node->items);
	}
	node->prefix_kw = "prefixItems";
	node->items_kw = "items";
	prefix = json_object_get(s, "prefixItems");
	if (prefix && !compile_list(cc, prefix, "prefixItems", false, res, path,
								depth, &node->prefix_items))
		return false;
	if (json_is_array(items))
	{
		js_path		p = path_kw(path, "items");

		return compile_error(cc, &p, "\"items\" must be a schema in draft 2020-12 "
							 "(use \"prefixItems\" for an array of schemas, or "
							 "declare \"$schema\" as draft-07)");
	}
	return compile_child(cc, s, "items", JS_D2020, res, path, depth, &node->items);
}

/* Compile the array keywords. */
static bool
compile_array(js_cctx *cc, js_node *node, const json_t *s,
			  const js_resource *res, const js_path *path, int depth)
{
	json_t	   *v;

	if (!compile_items(cc, node, s, res, path, depth) ||
		!compile_child(cc, s, "contains", JS_DALL, res, path, depth, &node->contains) ||
		!compile_child(cc, s, "unevaluatedItems", JS_D2020, res, path, depth,
					   &node->unevaluated_items) ||
		!get_count(cc, s, "minItems", JS_DALL, path, &node->min_items) ||
		!get_count(cc, s, "maxItems", JS_DALL, path, &node->max_items) ||
		!get_count(cc, s, "minContains", JS_D2020, path, &node->min_contains) ||
		!get_count(cc, s, "maxContains", JS_D2020, path, &node->max_contains))
		return false;
	v = json_object_get(s, "uniqueItems");
	if (v)
	{
		js_path		p = path_kw(path, "uniqueItems");

		if (!json_is_boolean(v))
			return compile_error(cc, &p, "\"uniqueItems\" must be a boolean");
		node->unique_items = json_is_true(v);
	}
	node->has_array = node->prefix_items.count || node->items || node->contains ||
		node->unevaluated_items || node->min_items >= 0 || node->max_items >= 0 ||
		node->unique_items;
	return true;
}

/* Check that "v" is an array of distinct strings (for "required" & co). */
static bool
check_string_array(js_cctx *cc, const json_t *v, const js_path *p, const char *kw)
{
	size_t		i;
	size_t		j;

	if (!json_is_array(v))
		return compile_error(cc, p, "\"%s\" must be an array of strings", kw);
	for (i = 0; i < json_array_size(v); i++)
	{
		if (!json_is_string(json_array_get(v, i)))
			return compile_error(cc, p, "\"%s\" must be an array of strings", kw);
		for (j = 0; j < i; j++)
			if (json_equal_depth(json_array_get(v, i), json_array_get(v, j), 0) == 1)
				return compile_error(cc, p, "\"%s\" must not contain duplicates", kw);
	}
	return true;
}

/*
 * Compile "dependentRequired" and "dependentSchemas" (2020-12) or
 * "dependencies" (draft-07, whose values are either kind).
 */
static bool
compile_dependencies(js_cctx *cc, js_node *node, const json_t *s,
					 const js_resource *res, const js_path *path, int depth)
{
	const char *req_kw = cc->draft == JS_DRAFT_7 ? "dependencies" : "dependentRequired";
	const char *sch_kw = cc->draft == JS_DRAFT_7 ? "dependencies" : "dependentSchemas";
	json_t	   *req = json_object_get(s, req_kw);
	json_t	   *sch = json_object_get(s, sch_kw);
	js_path		p = path_kw(path, req_kw);
	const char *key;
	size_t		klen;
	json_t	   *v;

	node->dependent_required_kw = req_kw;
	node->dependent_schemas_kw = sch_kw;
	if (req && !json_is_object(req))
		return compile_error(cc, &p, "\"%s\" must be an object", req_kw);
	if (req)
	{
		node->dependent_required = arena_array(&cc->schema->arena,
											   json_object_size(req),
											   sizeof(js_dependency));
		if (node->dependent_required == NULL)
			return compile_oom(cc);
	}
	if (req && cc->draft == JS_DRAFT_7)
	{
		/* draft-07 "dependencies" mixes both kinds in one object */
		node->dependent_schemas = arena_array(&cc->schema->arena,
											  json_object_size(req),
											  sizeof(js_named_node));
		if (node->dependent_schemas == NULL)
			return compile_oom(cc);
	}
	json_object_keylen_foreach(req, key, klen, v)
	{
		js_path		kp = path_key(&p, key, klen);

		if (cc->draft == JS_DRAFT_7 && !json_is_array(v))
		{
			js_named_node *d = &node->dependent_schemas[node->ndependent_schemas++];

			d->name = key;
			d->len = klen;
			if ((d->node = compile_schema(cc, v, res, &kp, depth + 1)) == NULL)
				return false;
			continue;
		}
		if (!check_string_array(cc, v, &kp, req_kw))
			return false;
		node->dependent_required[node->ndependent_required].name = key;
		node->dependent_required[node->ndependent_required].len = klen;
		node->dependent_required[node->ndependent_required].required = v;
		node->ndependent_required++;
	}
	if (cc->draft == JS_DRAFT_7 || sch == NULL)
		return true;
	return compile_map(cc, sch, sch_kw, res, path, depth,
					   &node->dependent_schemas, &node->ndependent_schemas);
}

/* Compile "patternProperties". */
static bool
compile_pattern_properties(js_cctx *cc, js_node *node, const json_t *s,
						   const js_resource *res, const js_path *path, int depth)
{
	json_t	   *v = json_object_get(s, "patternProperties");
	js_path		p = path_kw(path, "patternProperties");
	const char *key;
	size_t		klen;
	json_t	   *child;

	if (v == NULL)
		return true;
	if (!json_is_object(v))
		return compile_error(cc, &p, "\"patternProperties\" must be an object");
	node->pattern_properties = arena_array(&cc->schema->arena, json_object_size(v),
										   sizeof(js_pattern_node));
	if (node->pattern_properties == NULL)
		return compile_oom(cc);
	json_object_keylen_foreach(v, key, klen, child)
	{
		js_path		kp = path_key(&p, key, klen);
		js_pattern_node *pn = &node->pattern_properties[node->npattern_properties++];

		pn->pattern = key;
		if ((pn->regex = compile_regex(cc, key, &kp)) == NULL ||
			(pn->node = compile_schema(cc, child, res, &kp, depth + 1)) == NULL)
			return false;
	}
	return true;
}

/* Compile the object keywords. */
static bool
compile_object(js_cctx *cc, js_node *node, const json_t *s,
			   const js_resource *res, const js_path *path, int depth)
{
	json_t	   *v = json_object_get(s, "properties");

	if (v && !compile_map(cc, v, "properties", res, path, depth,
						  &node->properties, &node->nproperties))
		return false;
	if (!compile_pattern_properties(cc, node, s, res, path, depth) ||
		!compile_dependencies(cc, node, s, res, path, depth) ||
		!compile_child(cc, s, "additionalProperties", JS_DALL, res, path, depth,
					   &node->additional_properties) ||
		!compile_child(cc, s, "propertyNames", JS_DALL, res, path, depth,
					   &node->property_names) ||
		!compile_child(cc, s, "unevaluatedProperties", JS_D2020, res, path, depth,
					   &node->unevaluated_properties) ||
		!get_count(cc, s, "minProperties", JS_DALL, path, &node->min_properties) ||
		!get_count(cc, s, "maxProperties", JS_DALL, path, &node->max_properties))
		return false;
	v = json_object_get(s, "required");
	if (v)
	{
		js_path		p = path_kw(path, "required");

		if (!check_string_array(cc, v, &p, "required"))
			return false;
		node->required = v;
	}
	node->has_object = v || node->nproperties || node->npattern_properties ||
		node->additional_properties || node->property_names ||
		node->unevaluated_properties || node->min_properties >= 0 ||
		node->max_properties >= 0 || node->ndependent_required ||
		node->ndependent_schemas;
	return true;
}

/*
 * Compile "$ref" or "$dynamicRef" keyword "kw" of "s" into *slot.  For a
 * "$dynamicRef" whose initial target carries a matching "$dynamicAnchor",
 * remember the anchor name so that validation searches the dynamic scope.
 */
static bool
compile_ref(js_cctx *cc, js_node *node, const json_t *s, const char *kw,
			const js_resource *res, const js_path *path, js_node **slot)
{
	json_t	   *v = json_object_get(s, kw);
	js_path		p = path_kw(path, kw);
	json_t	   *target = NULL;
	const js_resource *tres;
	js_anchor  *anchor;

	if (v == NULL)
		return true;
	if (!json_is_string(v))
		return compile_error(cc, &p, "\"%s\" must be a string", kw);
	if (!resolve_reference(cc, res, json_string_value(v), &p, &target, &tres, &anchor))
		return false;
	if (anchor && anchor->dynamic && strcmp(kw, "$dynamicRef") == 0)
	{
		node->dynamic_name = anchor->name;
		cc->schema->scope_sensitive = true;
	}
	return link_node(cc, slot, target, tres);
}

/* Compile the in-place applicators and references. */
static bool
compile_applicators(js_cctx *cc, js_node *node, const json_t *s,
					const js_resource *res, const js_path *path, int depth)
{
	json_t	   *v;

	if ((v = json_object_get(s, "allOf")) &&
		!compile_list(cc, v, "allOf", true, res, path, depth, &node->all_of))
		return false;
	if ((v = json_object_get(s, "anyOf")) &&
		!compile_list(cc, v, "anyOf", true, res, path, depth, &node->any_of))
		return false;
	if ((v = json_object_get(s, "oneOf")) &&
		!compile_list(cc, v, "oneOf", true, res, path, depth, &node->one_of))
		return false;
	if (!compile_child(cc, s, "not", JS_DALL, res, path, depth, &node->not_schema) ||
		!compile_child(cc, s, "if", JS_DALL, res, path, depth, &node->if_schema) ||
		!compile_child(cc, s, "then", JS_DALL, res, path, depth, &node->then_schema) ||
		!compile_child(cc, s, "else", JS_DALL, res, path, depth, &node->else_schema) ||
		!compile_ref(cc, node, s, "$ref", res, path, &node->ref))
		return false;
	if (cc->draft == JS_DRAFT_2020_12 &&
		!compile_ref(cc, node, s, "$dynamicRef", res, path, &node->dynamic_ref))
		return false;
	node->has_applicator = node->all_of.count || node->any_of.count ||
		node->one_of.count || node->not_schema || node->if_schema ||
		json_object_get(s, "$ref") ||
		(cc->draft == JS_DRAFT_2020_12 && json_object_get(s, "$dynamicRef"));
	return true;
}

/* Compile the definitions container so that its schemas are checked. */
static bool
compile_definitions(js_cctx *cc, const json_t *s, const js_resource *res,
					const js_path *path, int depth)
{
	const char *kw = cc->draft == JS_DRAFT_7 ? "definitions" : "$defs";
	json_t	   *v = json_object_get(s, kw);
	js_named_node *defs;
	size_t		n;

	if (v == NULL)
		return true;
	return compile_map(cc, v, kw, res, path, depth, &defs, &n);
}

/*
 * Compile schema value "s" (an object or a boolean) found in resource
 * "res".  Each JSON value is compiled once; later requests return the
 * same node, which is how references share their targets.
 */
static js_node *
compile_schema(js_cctx *cc, json_t *s, const js_resource *res,
			   const js_path *path, int depth)
{
	js_node    *node = ptr_map_get(&cc->nodes, s);
	js_resource *own;
	bool		ok;

	if (node)
		return node;
	if (depth > JS_MAX_DEPTH)
	{
		compile_error(cc, path, "schema is nested more than %d levels deep",
					  JS_MAX_DEPTH);
		return NULL;
	}
	if (!cc_charge(cc, 1))
		return NULL;
	if (!json_is_object(s) && !json_is_boolean(s))
	{
		compile_error(cc, path, "a schema must be an object or a boolean");
		return NULL;
	}
	node = arena_alloc(&cc->schema->arena, sizeof(*node));
	if (node == NULL || !ptr_map_put(&cc->nodes, s, node))
	{
		compile_oom(cc);
		return NULL;
	}
	if ((own = ptr_map_get(&cc->resources, s)) != NULL)
		res = own;
	node->resource = res;
	node->min_length = node->max_length = -1;
	node->min_items = node->max_items = -1;
	node->min_contains = node->max_contains = -1;
	node->min_properties = node->max_properties = -1;
	if (json_is_boolean(s))
	{
		node->is_bool = true;
		node->bool_value = json_is_true(s);
		return node;
	}
	if (cc->draft == JS_DRAFT_7 && json_object_get(s, "$ref"))
	{
		/* draft-07: "$ref" makes every sibling keyword ignored */
		ok = compile_ref(cc, node, s, "$ref", res, path, &node->ref);
		node->has_applicator = true;
		return ok ? node : NULL;
	}
	ok = compile_generic(cc, node, s, path) &&
		compile_numeric(cc, node, s, path) &&
		compile_string(cc, node, s, path) &&
		compile_array(cc, node, s, res, path, depth) &&
		compile_object(cc, node, s, res, path, depth) &&
		compile_applicators(cc, node, s, res, path, depth) &&
		compile_definitions(cc, s, res, path, depth);
	if (ok && cc->vocab != JS_V_ALL && !res->foreign)
		restrict_vocabularies(cc, node, s);
	return ok ? node : NULL;
}

/* ----------------------------------------------------------------
 * Error lists
 * ----------------------------------------------------------------
 */

struct js_error_list
{
	js_error   *items;
	size_t		count;
	size_t		cap;
	size_t		max;			/* 0: unlimited */
	bool		truncated;
};

/* Create an empty error list holding at most max_errors (0: no limit). */
js_error_list *
js_error_list_new(size_t max_errors)
{
	js_error_list *list = js_mem_alloc(sizeof(*list));

	if (list == NULL)
		return NULL;
	memset(list, 0, sizeof(*list));
	list->max = max_errors;
	return list;
}

/* Number of errors in the list. */
size_t
js_error_count(const js_error_list *list)
{
	return list ? list->count : 0;
}

/* The i-th error, or NULL if out of range. */
const js_error *
js_error_at(const js_error_list *list, size_t i)
{
	if (list == NULL || i >= list->count)
		return NULL;
	return &list->items[i];
}

/* Did the list drop errors because it reached its limit? */
bool
js_error_list_truncated(const js_error_list *list)
{
	return list ? list->truncated : false;
}

/* Remove all errors, keeping the list usable. */
void
js_error_list_clear(js_error_list *list)
{
	size_t		i;

	if (list == NULL)
		return;
	for (i = 0; i < list->count; i++)
	{
		js_mem_free(list->items[i].instance_location);
		js_mem_free(list->items[i].keyword_location);
		js_mem_free(list->items[i].message);
	}
	list->count = 0;
	list->truncated = false;
}

/* Free the list and all its errors. */
void
js_error_list_free(js_error_list *list)
{
	if (list == NULL)
		return;
	js_error_list_clear(list);
	js_mem_free(list->items);
	js_mem_free(list);
}

/*
 * Append an error, taking ownership of the three strings (freed here on
 * failure).  Returns false when out of memory.
 */
static bool
error_list_append(js_error_list *list, char *iloc, char *kloc,
				  const char *keyword, char *msg)
{
	if (iloc == NULL || kloc == NULL || msg == NULL)
		goto fail;
	if (list->count == list->cap)
	{
		size_t		newcap = list->cap ? list->cap * 2 : 8;
		js_error   *items = js_mem_alloc(newcap * sizeof(js_error));

		if (items == NULL)
			goto fail;
		if (list->items)
			memcpy(items, list->items, list->count * sizeof(js_error));
		js_mem_free(list->items);
		list->items = items;
		list->cap = newcap;
	}
	list->items[list->count].instance_location = iloc;
	list->items[list->count].keyword_location = kloc;
	list->items[list->count].keyword = keyword;
	list->items[list->count].message = msg;
	list->count++;
	return true;

fail:
	js_mem_free(iloc);
	js_mem_free(kloc);
	js_mem_free(msg);
	return false;
}

/* ----------------------------------------------------------------
 * Validation state
 * ----------------------------------------------------------------
 */

/*
 * The dynamic scope: resources entered along the evaluation path.
 *
 * "sig" identifies what "$dynamicRef" can see of it: the sequence of the
 * distinct resources with a "$dynamicAnchor" in the order first entered
 * (a "$dynamicRef" goes to the outermost resource defining its anchor, so
 * two scopes with the same sequence resolve every "$dynamicRef" alike).
 * Sequences are numbered as they appear (js_sig; 0 is the empty one);
 * JS_SIG_NONE when there were too many to number.
 */
typedef struct js_scope
{
	const struct js_scope *up;
	const js_resource *resource;
	unsigned	sig;
} js_scope;

#define JS_SIG_NONE		UINT_MAX
#define JS_MAX_SIGS		4096

/* A numbered sequence: its last resource and the sequence before it. */
typedef struct js_sig
{
	unsigned	parent;
	const js_resource *resource;
} js_sig;

/*
 * Evaluated members (by iteration position) or items (by index) of the
 * instance object or array, for "unevaluatedProperties"/"Items".
 */
typedef struct js_eval
{
	size_t		n;
	uint64_t   *bits;
	uint64_t	inline_bits[2];
} js_eval;

/*
 * One memoised result: "node" applied to instance value "inst" returned
 * "rc" (0 or 1) and, if has_bits, evaluated the members/items in "bits".
 */
typedef struct js_memo_entry
{
	const js_node *node;		/* NULL: free slot */
	const json_t *inst;
	unsigned	sig;			/* the dynamic scope's, when it matters */
	int			rc;
	bool		has_bits;
	uint64_t   *bits;
} js_memo_entry;

/*
 * Memoised results of one validation: the first JS_MEMO_SMALL in "small"
 * (most schemas have few references: no allocation for them), then in a
 * hash table (open addressing, linear probing).
 */
#define JS_MEMO_SMALL 8

typedef struct js_memo
{
	js_memo_entry small[JS_MEMO_SMALL];
	js_memo_entry *slots;
	size_t		cap;			/* a power of 2, or 0 while "small" serves */
	size_t		count;
	size_t		bytes;			/* memory held, against JS_MEMO_MAX_BYTES */
} js_memo;

/* Memory a validation's memo may hold; beyond it, nothing more is kept. */
#define JS_MEMO_MAX_BYTES ((size_t) 64 * 1024 * 1024)

typedef struct js_vctx
{
	const js_schema *schema;
	js_error_list *errors;		/* NULL when errors are not collected */
	int			depth;
	bool		stop;			/* the error list is full */
	bool		failed;			/* an internal failure was recorded */
	char	   *fail_instance;
	char	   *fail_keyword;
	const char *fail_kw;
	char	   *fail_msg;

	/* cost accounting (see js_limits) */
	unsigned long long steps;
	unsigned long long next_check;	/* when charge() must look closer */
	unsigned long long next_interrupt;
	unsigned long long max_steps;	/* 0: no budget */
	int			(*interrupt) (void *arg);
	void	   *interrupt_arg;

	/* results of subschemas reached through references */
	js_memo		memo;
	json_t	  **names;			/* property names made for "propertyNames", */
	size_t		nnames;			/* kept to the end so that their addresses */
	size_t		names_cap;		/* stay theirs for the memo */
	js_sig	   *sigs;			/* numbered dynamic scopes (js_scope.sig) */
	unsigned	nsigs;
	unsigned	sigs_cap;
} js_vctx;

/* Combine keyword results: -1 dominates, then 0. */
static inline int
merge_result(int a, int b)
{
	if (a < 0 || b < 0)
		return -1;
	return a && b;
}

/* Fold the result of "expr" (evaluated once) into "rc". */
#define JS_MERGE(rc, expr) \
	do { \
		int			r_ = (expr); \
		(rc) = merge_result((rc), r_); \
	} while (0)

/* Should evaluation of the current schema stop now? */
#define JS_DONE(ctx, rc) \
	((rc) < 0 || ((rc) == 0 && (ctx)->errors == NULL) || (ctx)->stop)

/* Prepare an empty evaluation set for n members or items. */
static bool
eval_init(js_eval *ev, size_t n)
{
	size_t		words = (n + 63) / 64;

	ev->n = n;
	if (words <= 2)
	{
		ev->bits = ev->inline_bits;
		memset(ev->inline_bits, 0, sizeof(ev->inline_bits));
		return true;
	}
	ev->bits = js_mem_alloc(words * sizeof(uint64_t));
	if (ev->bits == NULL)
		return false;
	memset(ev->bits, 0, words * sizeof(uint64_t));
	return true;
}

/* Release an evaluation set. */
static void
eval_free(js_eval *ev)
{
	if (ev->bits != ev->inline_bits)
		js_mem_free(ev->bits);
}

/* Mark member/item i as evaluated (no-op without a set). */
static inline void
eval_set(js_eval *ev, size_t i)
{
	if (ev && i < ev->n)
		ev->bits[i / 64] |= UINT64_C(1) << (i % 64);
}

/* Was member/item i evaluated? */
static inline bool
eval_get(const js_eval *ev, size_t i)
{
	return (ev->bits[i / 64] >> (i % 64)) & 1;
}

/* Add the marks of "src" to "dst". */
static void
eval_merge(js_eval *dst, const js_eval *src)
{
	size_t		i;

	for (i = 0; i < (dst->n + 63) / 64; i++)
		dst->bits[i] |= src->bits[i];
}

/*
 * Record an internal failure (depth limit, regex failure, out of memory).
 * Only the first one is kept; it is reported even when errors are not
 * being collected at that point.  Always returns -1.
 */
static int
validation_fail_at(js_vctx *ctx, const js_path *ip, const js_path *loc,
				   const char *keyword, const char *msg)
{
	if (ctx->failed)
		return -1;
	ctx->failed = true;
	ctx->fail_instance = path_string(ip);
	ctx->fail_keyword = path_string(loc);
	ctx->fail_kw = keyword;
	ctx->fail_msg = js_mem_strdup(msg);
	return -1;
}

/*
 * The slow path of charge(): fail once the budget is exhausted, call the
 * interrupt hook when it is due, and work out the next step count at
 * which charge() must come here again.  Returns 0, or -1 on failure.
 */
static int
charge_slow(js_vctx *ctx, const js_path *ip, const js_path *loc)
{
	if (ctx->max_steps && ctx->steps > ctx->max_steps)
	{
		char		msg[96];

		snprintf(msg, sizeof(msg), "evaluation exceeded its budget of %llu steps",
				 ctx->max_steps);
		return validation_fail_at(ctx, ip, loc, "budget", msg);
	}
	if (ctx->interrupt && ctx->steps >= ctx->next_interrupt)
	{
		if (ctx->interrupt(ctx->interrupt_arg))
			return validation_fail_at(ctx, ip, loc, "interrupted",
									  "evaluation was interrupted");
		ctx->next_interrupt = ctx->steps + JS_INTERRUPT_STEPS;
	}
	ctx->next_check = ctx->interrupt ? ctx->next_interrupt : ULLONG_MAX;
	if (ctx->max_steps && ctx->max_steps < ctx->next_check)
		ctx->next_check = ctx->max_steps + 1;
	return 0;
}

/*
 * Count "n" steps of evaluation at instance location "ip" and keyword
 * location "loc".  Returns 0, or -1 (recorded) when the budget is
 * exhausted or the interrupt hook stops evaluation.  One comparison in
 * the common case, so that it can be called for every subschema.
 */
static inline int
charge(js_vctx *ctx, unsigned long long n, const js_path *ip, const js_path *loc)
{
	ctx->steps += n;
	if (ctx->steps >= ctx->next_check)
		return charge_slow(ctx, ip, loc);
	return 0;
}

/* Record an internal failure of keyword "kw" of the schema at "sp". */
static int
validation_fail(js_vctx *ctx, const js_path *ip, const js_path *sp,
				const char *kw, const char *msg)
{
	js_path		kp = path_kw(sp, kw);

	return validation_fail_at(ctx, ip, &kp, kw, msg);
}

/*
 * Report a validation error of keyword "keyword" whose keyword location
 * is "loc".  Returns 0, or -1 when out of memory.
 */
static int vreport_at(js_vctx *ctx, const js_path *ip, const js_path *loc,
					  const char *keyword, const char *fmt, va_list ap) JS_PRINTF(5, 0);
static int
vreport_at(js_vctx *ctx, const js_path *ip, const js_path *loc,
		   const char *keyword, const char *fmt, va_list ap)
{
	js_buf		msg = {0};

	if (ctx->errors->max && ctx->errors->count >= ctx->errors->max)
	{
		ctx->errors->truncated = true;
		ctx->stop = true;
		return 0;
	}
	/* errors cost memory: they count against the budget */
	if (charge(ctx, JS_ERROR_STEPS, ip, loc) < 0)
		return -1;
	buf_vprintf(&msg, fmt, ap);
	if (!error_list_append(ctx->errors, path_string(ip), path_string(loc),
						   keyword, buf_finish(&msg)))
		return validation_fail(ctx, ip, loc, keyword, "out of memory");
	if (ctx->errors->max && ctx->errors->count >= ctx->errors->max)
		ctx->stop = true;
	return 0;
}

/*
 * Report a validation error of keyword "keyword" located at "loc" (used
 * when the location is not simply the keyword below its schema).  Does
 * nothing, cheaply, when errors are not being collected.
 */
static int	report_at(js_vctx *ctx, const js_path *ip, const js_path *loc,
					  const char *keyword, const char *fmt,...) JS_PRINTF(5, 6);
static int
report_at(js_vctx *ctx, const js_path *ip, const js_path *loc,
		  const char *keyword, const char *fmt,...)
{
	va_list		ap;
	int			rc;

	if (ctx->errors == NULL)
		return 0;
	va_start(ap, fmt);
	rc = vreport_at(ctx, ip, loc, keyword, fmt, ap);
	va_end(ap);
	return rc;
}

/*
 * Report a validation error for keyword "kw" of the schema at "sp".
 * Returns 0, or -1 when out of memory.  Does nothing, cheaply, when
 * errors are not being collected.
 */
static int	report(js_vctx *ctx, const js_path *ip, const js_path *sp, const char *kw,
				   const char *fmt,...) JS_PRINTF(5, 6);
static int
report(js_vctx *ctx, const js_path *ip, const js_path *sp, const char *kw,
	   const char *fmt,...)
{
	js_path		kp;
	va_list		ap;
	int			rc;

	if (ctx->errors == NULL)
		return 0;
	kp = path_kw(sp, kw);
	va_start(ap, fmt);
	rc = vreport_at(ctx, ip, &kp, kw, fmt, ap);
	va_end(ap);
	return rc;
}

/* Length of "s" to quote in a message, cut on a UTF-8 boundary. */
static int
quote_len(const char *s, size_t len)
{
	if (len <= JS_MAX_QUOTE)
		return (int) len;
	len = JS_MAX_QUOTE;
	while (len > 0 && ((unsigned char) s[len] & 0xC0) == 0x80)
		len--;
	return (int) len;
}

/* Suffix marking a string cut by quote_len(). */
static const char *
quote_cut(size_t len)
{
	return len > JS_MAX_QUOTE ? "..." : "";
}

/* Format a JSON number for a message into "out". */
static const char *
number_text(const json_t *v, char *out, size_t outlen)
{
	js_buf		buf = {0};
	char	   *s;

	buf_number(&buf, v);
	s = buf_finish(&buf);
	snprintf(out, outlen, "%s", s ? s : "?");
	js_mem_free(s);
	return out;
}

static int	validate_node(js_vctx *ctx, const js_node *node, json_t *inst,
						  const js_path *ip, const js_path *sp,
						  const js_scope *scope, js_eval *ev);

/* Validate without collecting errors (for anyOf, oneOf, not, if, ...). */
static int
validate_quiet(js_vctx *ctx, const js_node *node, json_t *inst,
			   const js_path *ip, const js_path *sp, const js_scope *scope,
			   js_eval *ev)
{
	js_error_list *saved = ctx->errors;
	int			rc;

	ctx->errors = NULL;
	rc = validate_node(ctx, node, inst, ip, sp, scope, ev);
	ctx->errors = saved;
	return rc;
}

/* ----------------------------------------------------------------
 * Validation of keywords for any instance type
 * ----------------------------------------------------------------
 */

/* JS_T_* bits of an instance (integral numbers are also "integer"). */
static unsigned
instance_types(const json_t *inst)
{
	switch (json_typeof(inst))
	{
		case JSON_OBJECT:
			return JS_T_OBJECT;
		case JSON_ARRAY:
			return JS_T_ARRAY;
		case JSON_STRING:
			return JS_T_STRING;
		case JSON_INTEGER:
			return JS_T_NUMBER | JS_T_INTEGER;
		case JSON_REAL:
			return JS_T_NUMBER | (json_is_integral(inst) ? JS_T_INTEGER : 0);
		case JSON_TRUE:
		case JSON_FALSE:
			return JS_T_BOOLEAN;
		default:
			return JS_T_NULL;
	}
}

/* Name of an instance's type for messages. */
static const char *
instance_type_name(const json_t *inst)
{
	switch (json_typeof(inst))
	{
		case JSON_OBJECT:
			return "object";
		case JSON_ARRAY:
			return "array";
		case JSON_STRING:
			return "string";
		case JSON_INTEGER:
			return "integer";
		case JSON_REAL:
			return "number";
		case JSON_TRUE:
		case JSON_FALSE:
			return "boolean";
		default:
			return "null";
	}
}

/* Report a "type" mismatch, listing the allowed types. */
static int
report_type(js_vctx *ctx, const js_node *node, const json_t *inst,
			const js_path *ip, const js_path *sp)
{
	static const char *const names[] =
	{"null", "boolean", "object", "array", "number", "string", "integer"};
	js_buf		list = {0};
	int			total = 0;
	int			seen = 0;
	int			i;
	int			rc;

	if (ctx->errors == NULL)
		return 0;
	for (i = 0; i < 7; i++)
		total += (node->types >> i) & 1;
	for (i = 0; i < 7; i++)
	{
		if (!((node->types >> i) & 1))
			continue;
		if (seen > 0)
			buf_puts(&list, seen == total - 1 ? " or " : ", ");
		buf_printf(&list, "\"%s\"", names[i]);
		seen++;
	}
	if (list.failed)
	{
		js_mem_free(list.data);
		return validation_fail(ctx, ip, sp, "type", "out of memory");
	}
	rc = report(ctx, ip, sp, "type", "value must be of type %s, not \"%s\"",
				list.data, instance_type_name(inst));
	js_mem_free(list.data);
	return rc;
}

/* Validate "type", "enum" and "const". */
static int
validate_generic(js_vctx *ctx, const js_node *node, json_t *inst,
				 const js_path *ip, const js_path *sp)
{
	int			rc = 1;

	if (node->types && (instance_types(inst) & node->types) == 0)
	{
		JS_MERGE(rc, report_type(ctx, node, inst, ip, sp));
		if (JS_DONE(ctx, rc))
			return rc;
	}
	if (node->enum_values)
	{
		size_t		i;
		int			eq = 0;

		for (i = 0; i < json_array_size(node->enum_values) && eq == 0; i++)
		{
			if (charge(ctx, 1, ip, sp) < 0)
				return -1;
			eq = json_equal_depth(inst, json_array_get(node->enum_values, i), 0);
		}
		if (eq < 0)
			return validation_fail(ctx, ip, sp, "enum",
								   "value is nested too deeply to compare");
		if (eq == 0)
			JS_MERGE(rc, report(ctx, ip, sp, "enum",
								"value must be one of the values listed in \"enum\""));
		if (JS_DONE(ctx, rc))
			return rc;
	}
	if (node->has_const)
	{
		int			eq = json_equal_depth(inst, node->const_value, 0);

		if (eq < 0)
			return validation_fail(ctx, ip, sp, "const",
								   "value is nested too deeply to compare");
		if (eq == 0)
			JS_MERGE(rc, report(ctx, ip, sp, "const",
								"value must be equal to the value of \"const\""));
	}
	return rc;
}

/* Validate the numeric keywords against number "inst". */
static int
validate_number(js_vctx *ctx, const js_node *node, json_t *inst,
				const js_path *ip, const js_path *sp)
{
	char		num[48];
	int			rc = 1;

	if (node->minimum && number_cmp(inst, node->minimum) < 0)
		JS_MERGE(rc, report(ctx, ip, sp, "minimum",
							"value must be greater than or equal to %s",
							number_text(node->minimum, num, sizeof(num))));
	if (!JS_DONE(ctx, rc) && node->maximum && number_cmp(inst, node->maximum) > 0)
		JS_MERGE(rc, report(ctx, ip, sp, "maximum",
							"value must be less than or equal to %s",
							number_text(node->maximum, num, sizeof(num))));
	if (!JS_DONE(ctx, rc) && node->exclusive_minimum &&
		number_cmp(inst, node->exclusive_minimum) <= 0)
		JS_MERGE(rc, report(ctx, ip, sp, "exclusiveMinimum",
							"value must be greater than %s",
							number_text(node->exclusive_minimum, num, sizeof(num))));
	if (!JS_DONE(ctx, rc) && node->exclusive_maximum &&
		number_cmp(inst, node->exclusive_maximum) >= 0)
		JS_MERGE(rc, report(ctx, ip, sp, "exclusiveMaximum",
							"value must be less than %s",
							number_text(node->exclusive_maximum, num, sizeof(num))));
	if (!JS_DONE(ctx, rc) && node->multiple_of && !is_multiple_of(inst, node->multiple_of))
		JS_MERGE(rc, report(ctx, ip, sp, "multipleOf",
							"value must be a multiple of %s",
							number_text(node->multiple_of, num, sizeof(num))));
	return rc;
}

/*
 * Run the caller's regex "handle" on "subject" for the keyword at "loc".
 * Returns 1 match, 0 no match, -1 failure (recorded).
 */
static int
regex_match(js_vctx *ctx, void *handle, const char *subject, size_t len,
			const js_path *ip, const js_path *loc, const char *keyword)
{
	const js_regex_ops *re = &ctx->schema->regex;
	char	   *msg = NULL;
	int			r = re->match(re->arg, handle, subject, len, &msg);

	if (r < 0 || r > 1)
	{
		validation_fail_at(ctx, ip, loc, keyword,
						   msg ? msg : "regular expression match failed");
		js_mem_free(msg);
		return -1;
	}
	js_mem_free(msg);
	return r;
}

/* Validate the string keywords against string "inst". */
static int
validate_string(js_vctx *ctx, const js_node *node, json_t *inst,
				const js_path *ip, const js_path *sp)
{
	const char *str = json_string_value(inst);
	size_t		blen = json_string_length(inst);
	int			rc = 1;

	if (node->min_length >= 0 || node->max_length >= 0)
	{
		size_t		n = utf8_length(str, blen);

		if (node->min_length >= 0 && n < (size_t) node->min_length)
			JS_MERGE(rc, report(ctx, ip, sp, "minLength",
								"string must be at least %" JSON_INTEGER_FORMAT
								" characters long", node->min_length));
		if (!JS_DONE(ctx, rc) && node->max_length >= 0 && n > (size_t) node->max_length)
			JS_MERGE(rc, report(ctx, ip, sp, "maxLength",
								"string must be at most %" JSON_INTEGER_FORMAT
								" characters long", node->max_length));
	}
	if (!JS_DONE(ctx, rc) && node->pattern)
	{
		js_path		kp = path_kw(sp, "pattern");
		int			m = regex_match(ctx, node->pattern_regex, str, blen, ip, &kp,
									"pattern");

		if (m == 0)
			m = report(ctx, ip, sp, "pattern", "string does not match pattern \"%s\"",
					   node->pattern);
		JS_MERGE(rc, m);
	}
	return rc;
}

/* ----------------------------------------------------------------
 * Validation of arrays
 * ----------------------------------------------------------------
 */

/* Hash of one array item, for duplicate detection. */
typedef struct js_item_hash
{
	uint64_t	hash;
	size_t		index;
} js_item_hash;

/* qsort comparator ordering items by hash, then index. */
static int
item_hash_cmp(const void *a, const void *b)
{
	const js_item_hash *x = a;
	const js_item_hash *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/*
 * Look for two equal items in array "arr" (at "ip", for keyword location
 * "sp"): small arrays pairwise, large ones by sorting item hashes; each
 * item hashed and each comparison is a step.  Returns 1 with the pair's
 * indexes, 0 if all items are distinct, -1 if items are nested too
 * deeply, -2 when out of memory, -3 if charge() failed (recorded).
 */
static int
find_duplicate(js_vctx *ctx, const json_t *arr, size_t *first, size_t *second,
			   const js_path *ip, const js_path *sp)
{
	size_t		n = json_array_size(arr);
	js_item_hash *h;
	size_t		i;
	size_t		j;
	int			result = 0;

	if (n < 16)
	{
		for (i = 0; i < n; i++)
			for (j = i + 1; j < n; j++)
			{
				int			eq;

				if (charge(ctx, 1, ip, sp) < 0)
					return -3;
				eq = json_equal_depth(json_array_get(arr, i),
									  json_array_get(arr, j), 0);
				if (eq != 0)
				{
					*first = i;
					*second = j;
					return eq;
				}
			}
		return 0;
	}
	if ((h = js_mem_alloc(n * sizeof(*h))) == NULL)
		return -2;
	for (i = 0; i < n; i++)
	{
		if (charge(ctx, 1, ip, sp) < 0)
		{
			js_mem_free(h);
			return -3;
		}
		h[i].hash = json_hash(json_array_get(arr, i), 0);
		h[i].index = i;
	}
	qsort(h, n, sizeof(*h), item_hash_cmp);
	for (i = 0; i < n && result == 0; i++)
		for (j = i + 1; j < n && h[j].hash == h[i].hash && result == 0; j++)
		{
			if (charge(ctx, 1, ip, sp) < 0)
			{
				result = -3;
				break;
			}
			result = json_equal_depth(json_array_get(arr, h[i].index),
									  json_array_get(arr, h[j].index), 0);
			*first = h[i].index;
			*second = h[j].index;
		}
	js_mem_free(h);
	return result;
}

/* Validate "minItems", "maxItems" and "uniqueItems". */
static int
validate_array_size(js_vctx *ctx, const js_node *node, json_t *inst,
					const js_path *ip, const js_path *sp)
{
	size_t		n = json_array_size(inst);
	int			rc = 1;

	if (node->min_items >= 0 && n < (size_t) node->min_items)
		JS_MERGE(rc, report(ctx, ip, sp, "minItems",
							"array must have at least %" JSON_INTEGER_FORMAT " items",
							node->min_items));
	if (!JS_DONE(ctx, rc) && node->max_items >= 0 && n > (size_t) node->max_items)
		JS_MERGE(rc, report(ctx, ip, sp, "maxItems",
							"array must have at most %" JSON_INTEGER_FORMAT " items",
							node->max_items));
	if (!JS_DONE(ctx, rc) && node->unique_items)
	{
		size_t		a = 0;
		size_t		b = 0;
		int			dup = find_duplicate(ctx, inst, &a, &b, ip, sp);

		if (dup == -3)
			return -1;
		if (dup < 0)
			return validation_fail(ctx, ip, sp, "uniqueItems",
								   dup == -2 ? "out of memory" :
								   "array items are nested too deeply to compare");
		if (dup > 0)
			JS_MERGE(rc, report(ctx, ip, sp, "uniqueItems",
								"array items must be unique, but items %zu and "
								"%zu are equal", a, b));
	}
	return rc;
}

/* Validate "contains", "minContains" and "maxContains". */
static int
validate_contains(js_vctx *ctx, const js_node *node, json_t *inst,
				  const js_path *ip, const js_path *sp, const js_scope *scope,
				  js_eval *ev)
{
	js_path		kp = path_kw(sp, "contains");
	json_int_t	min = node->min_contains >= 0 ? node->min_contains : 1;
	size_t		found = 0;
	size_t		i;

	for (i = 0; i < json_array_size(inst); i++)
	{
		js_path		ipi = path_index(ip, i);
		int			r = validate_quiet(ctx, node->contains, json_array_get(inst, i),
									   &ipi, &kp, scope, NULL);

		if (r < 0)
			return -1;
		if (r == 1)
		{
			found++;
			eval_set(ev, i);
		}
	}
	if (found < (size_t) min)
		return report(ctx, ip, sp, node->min_contains >= 0 ? "minContains" : "contains",
					  "array must contain at least %" JSON_INTEGER_FORMAT
					  " %s matching \"contains\", but contains %zu",
					  min, min == 1 ? "item" : "items", found);
	if (node->max_contains >= 0 && found > (size_t) node->max_contains)
		return report(ctx, ip, sp, "maxContains",
					  "array must contain at most %" JSON_INTEGER_FORMAT
					  " %s matching \"contains\", but contains %zu",
					  node->max_contains, node->max_contains == 1 ? "item" : "items",
					  found);
	return 1;
}

/*
 * Validate array item or object member "v" against subschema "sub",
 * located at "loc" under keyword "keyword".  "name" is the member's key
 * (NULL for an array item).  A "false" schema gets a specific message
 * rather than the generic one.
 */
static int
validate_member(js_vctx *ctx, const js_node *sub, json_t *v, const js_path *ip,
				const js_path *loc, const char *keyword,
				const char *name, size_t namelen, const js_scope *scope)
{
	if (sub->is_bool && !sub->bool_value)
	{
		if (name)
			return report_at(ctx, ip, loc, keyword,
							 "property \"%.*s%s\" is not allowed",
							 quote_len(name, namelen), name, quote_cut(namelen));
		return report_at(ctx, ip, loc, keyword,
						 "array item is not allowed by \"%s\"", keyword);
	}
	return validate_node(ctx, sub, v, ip, loc, scope, NULL);
}

/* Validate the array keywords against array "inst". */
static int
validate_array(js_vctx *ctx, const js_node *node, json_t *inst,
			   const js_path *ip, const js_path *sp, const js_scope *scope,
			   js_eval *ev)
{
	size_t		n = json_array_size(inst);
	size_t		i;
	int			rc = validate_array_size(ctx, node, inst, ip, sp);

	for (i = 0; i < n && !JS_DONE(ctx, rc); i++)
	{
		js_path		ipi = path_index(ip, i);
		json_t	   *item = json_array_get(inst, i);

		if (i < node->prefix_items.count)
		{
			js_path		kp = path_kw(sp, node->prefix_kw);
			js_path		kpi = path_index(&kp, i);

			JS_MERGE(rc, validate_node(ctx, node->prefix_items.nodes[i], item,
									   &ipi, &kpi, scope, NULL));
		}
		else if (node->items)
		{
			js_path		kp = path_kw(sp, node->items_kw);

			JS_MERGE(rc, validate_member(ctx, node->items, item, &ipi, &kp,
										 node->items_kw, NULL, 0, scope));
		}
		else
			continue;
		eval_set(ev, i);
	}
	if (!JS_DONE(ctx, rc) && node->contains)
		JS_MERGE(rc, validate_contains(ctx, node, inst, ip, sp, scope, ev));
	return rc;
}

/* ----------------------------------------------------------------
 * Validation of objects
 * ----------------------------------------------------------------
 */

/* Validate "required", "dependentRequired" and the property counts. */
static int
validate_object_required(js_vctx *ctx, const js_node *node, json_t *inst,
						 const js_path *ip, const js_path *sp)
{
	size_t		n = json_object_size(inst);
	size_t		i;
	size_t		j;
	int			rc = 1;

	if (node->min_properties >= 0 && n < (size_t) node->min_properties)
		JS_MERGE(rc, report(ctx, ip, sp, "minProperties",
							"object must have at least %" JSON_INTEGER_FORMAT " properties",
							node->min_properties));
	if (!JS_DONE(ctx, rc) && node->max_properties >= 0 && n > (size_t) node->max_properties)
		JS_MERGE(rc, report(ctx, ip, sp, "maxProperties",
							"object must have at most %" JSON_INTEGER_FORMAT " properties",
							node->max_properties));
	for (i = 0; i < json_array_size(node->required) && !JS_DONE(ctx, rc); i++)
	{
		json_t	   *name = json_array_get(node->required, i);
		size_t		len = json_string_length(name);

		if (charge(ctx, 1, ip, sp) < 0)
			return -1;
		if (!json_object_getn(inst, json_string_value(name), len))
			JS_MERGE(rc, report(ctx, ip, sp, "required",
								"required property \"%.*s%s\" is missing",
								quote_len(json_string_value(name), len),
								json_string_value(name), quote_cut(len)));
	}
	for (i = 0; i < node->ndependent_required && !JS_DONE(ctx, rc); i++)
	{
		const js_dependency *d = &node->dependent_required[i];

		if (charge(ctx, 1, ip, sp) < 0)
			return -1;
		if (!json_object_getn(inst, d->name, d->len))
			continue;
		for (j = 0; j < json_array_size(d->required) && !JS_DONE(ctx, rc); j++)
		{
			json_t	   *name = json_array_get(d->required, j);
			size_t		len = json_string_length(name);

			if (charge(ctx, 1, ip, sp) < 0)
				return -1;
			if (!json_object_getn(inst, json_string_value(name), len))
				JS_MERGE(rc, report(ctx, ip, sp, node->dependent_required_kw,
									"property \"%.*s%s\" is required when property "
									"\"%.*s%s\" is present",
									quote_len(json_string_value(name), len),
									json_string_value(name), quote_cut(len),
									quote_len(d->name, d->len), d->name,
									quote_cut(d->len)));
		}
	}
	return rc;
}

/* Validate property name "key" against "propertyNames". */
static int
validate_property_name(js_vctx *ctx, const js_node *node, const char *key,
					   size_t klen, const js_path *ip, const js_path *sp,
					   const js_scope *scope)
{
	js_path		kp = path_kw(sp, "propertyNames");
	json_t	   *name = json_stringn_nocheck(key, klen);
	int			r;

	if (name == NULL)
		return validation_fail(ctx, ip, sp, "propertyNames", "out of memory");
	/* kept until validation ends: the memo knows values by their address */
	if (ctx->nnames == ctx->names_cap)
	{
		size_t		newcap = ctx->names_cap ? ctx->names_cap * 2 : 16;
		json_t	  **names = js_mem_alloc(newcap * sizeof(json_t *));

		if (names == NULL)
		{
			json_decref(name);
			return validation_fail(ctx, ip, sp, "propertyNames", "out of memory");
		}
		if (ctx->names)
			memcpy(names, ctx->names, ctx->nnames * sizeof(json_t *));
		js_mem_free(ctx->names);
		ctx->names = names;
		ctx->names_cap = newcap;
	}
	ctx->names[ctx->nnames++] = name;
	r = validate_quiet(ctx, node->property_names, name, ip, &kp, scope, NULL);
	if (r == 0)
		r = report(ctx, ip, sp, "propertyNames",
				   "property name \"%.*s%s\" does not match the \"propertyNames\" schema",
				   quote_len(key, klen), key, quote_cut(klen));
	return r;
}

/*
 * Validate member "key"/"v" of an object against "properties",
 * "patternProperties" and "additionalProperties".  Sets *evaluated when
 * one of them applied.
 */
static int
validate_property(js_vctx *ctx, const js_node *node, const char *key,
				  size_t klen, json_t *v, const js_path *ip, const js_path *sp,
				  const js_scope *scope, bool *evaluated)
{
	js_path		ipk = path_key(ip, key, klen);
	const js_named_node *prop = NULL;
	int			rc = 1;
	size_t		i;

	*evaluated = false;
	if (node->nproperties &&
		(prop = find_named(node->properties, node->nproperties, key, klen)) != NULL)
	{
		js_path		kp = path_kw(sp, "properties");
		js_path		kpn = path_key(&kp, prop->name, prop->len);

		*evaluated = true;
		JS_MERGE(rc, validate_member(ctx, prop->node, v, &ipk, &kpn, "properties",
									 key, klen, scope));
	}
	for (i = 0; i < node->npattern_properties && !JS_DONE(ctx, rc); i++)
	{
		const js_pattern_node *pn = &node->pattern_properties[i];
		js_path		kp = path_kw(sp, "patternProperties");
		js_path		kpn = path_kw(&kp, pn->pattern);
		int			m;

		if (charge(ctx, 1, ip, &kpn) < 0)
			return -1;
		m = regex_match(ctx, pn->regex, key, klen, ip, &kpn, "patternProperties");

		if (m < 0)
			return -1;
		if (m == 1)
		{

			*evaluated = true;
			JS_MERGE(rc, validate_member(ctx, pn->node, v, &ipk, &kpn,
										 "patternProperties", key, klen, scope));
		}
	}
	if (!*evaluated && node->additional_properties && !JS_DONE(ctx, rc))
	{
		js_path		kp = path_kw(sp, "additionalProperties");

		*evaluated = true;
		JS_MERGE(rc, validate_member(ctx, node->additional_properties, v, &ipk, &kp,
									 "additionalProperties", key, klen, scope));
	}
	return rc;
}

/* Validate the object keywords against object "inst". */
static int
validate_object(js_vctx *ctx, const js_node *node, json_t *inst,
				const js_path *ip, const js_path *sp, const js_scope *scope,
				js_eval *ev)
{
	int			rc = validate_object_required(ctx, node, inst, ip, sp);
	const char *key;
	size_t		klen;
	json_t	   *v;
	size_t		i = 0;

	if (node->nproperties || node->npattern_properties ||
		node->additional_properties || node->property_names)
	{
		json_object_keylen_foreach(inst, key, klen, v)
		{
			bool		evaluated;

			if (JS_DONE(ctx, rc))
				break;
			JS_MERGE(rc, validate_property(ctx, node, key, klen, v, ip, sp, scope,
										   &evaluated));
			if (evaluated)
				eval_set(ev, i);
			if (node->property_names && !JS_DONE(ctx, rc))
				JS_MERGE(rc, validate_property_name(ctx, node, key, klen, ip, sp, scope));
			i++;
		}
	}
	for (i = 0; i < node->ndependent_schemas && !JS_DONE(ctx, rc); i++)
	{
		const js_named_node *d = &node->dependent_schemas[i];
		js_path		kp = path_kw(sp, node->dependent_schemas_kw);
		js_path		kpn = path_key(&kp, d->name, d->len);

		if (charge(ctx, 1, ip, &kpn) < 0)
			return -1;
		if (json_object_getn(inst, d->name, d->len))
			JS_MERGE(rc, validate_node(ctx, d->node, inst, ip, &kpn, scope, ev));
	}
	return rc;
}

/* ----------------------------------------------------------------
 * Validation of "unevaluatedProperties" and "unevaluatedItems"
 * ----------------------------------------------------------------
 */

/*
 * Apply "unevaluatedProperties" or "unevaluatedItems" of "node" to the
 * members/items of "inst" not marked in "ev", then mark them all.
 */
static int
validate_unevaluated(js_vctx *ctx, const js_node *node, json_t *inst,
					 const js_path *ip, const js_path *sp, const js_scope *scope,
					 js_eval *ev)
{
	int			rc = 1;
	size_t		i = 0;

	if (json_is_object(inst))
	{
		js_path		kp = path_kw(sp, "unevaluatedProperties");
		const char *key;
		size_t		klen;
		json_t	   *v;

		json_object_keylen_foreach(inst, key, klen, v)
		{
			if (JS_DONE(ctx, rc))
				break;
			if (!eval_get(ev, i))
			{
				js_path		ipk = path_key(ip, key, klen);

				JS_MERGE(rc, validate_member(ctx, node->unevaluated_properties, v,
											 &ipk, &kp, "unevaluatedProperties",
											 key, klen, scope));
				eval_set(ev, i);
			}
			i++;
		}
		return rc;
	}
	for (i = 0; i < json_array_size(inst) && !JS_DONE(ctx, rc); i++)
	{
		js_path		kp = path_kw(sp, "unevaluatedItems");
		js_path		ipi = path_index(ip, i);

		if (eval_get(ev, i))
			continue;
		JS_MERGE(rc, validate_member(ctx, node->unevaluated_items,
									 json_array_get(inst, i), &ipi, &kp,
									 "unevaluatedItems", NULL, 0, scope));
		eval_set(ev, i);
	}
	return rc;
}

/* ----------------------------------------------------------------
 * Validation of in-place applicators
 * ----------------------------------------------------------------
 */

/*
 * Validate a subschema speculatively (errors suppressed) and, if it
 * passes, merge the members/items it evaluated into "ev".
 */
static int
validate_branch(js_vctx *ctx, const js_node *sub, json_t *inst,
				const js_path *ip, const js_path *loc, const js_scope *scope,
				js_eval *ev)
{
	js_eval		tmp;
	int			r;

	if (ev == NULL)
		return validate_quiet(ctx, sub, inst, ip, loc, scope, NULL);
	if (!eval_init(&tmp, ev->n))
		return validation_fail_at(ctx, ip, loc, "unevaluated", "out of memory");
	r = validate_quiet(ctx, sub, inst, ip, loc, scope, &tmp);
	if (r == 1)
		eval_merge(ev, &tmp);
	eval_free(&tmp);
	return r;
}

/* Validate "anyOf": at least one branch must pass. */
static int
validate_any_of(js_vctx *ctx, const js_node *node, json_t *inst,
				const js_path *ip, const js_path *sp, const js_scope *scope,
				js_eval *ev)
{
	js_path		kp = path_kw(sp, "anyOf");
	bool		any = false;
	size_t		i;

	for (i = 0; i < node->any_of.count; i++)
	{
		js_path		kpi = path_index(&kp, i);
		int			r = validate_branch(ctx, node->any_of.nodes[i], inst, ip, &kpi,
										scope, ev);

		if (r < 0)
			return -1;
		any |= (r == 1);
		/* with annotations wanted, every passing branch must contribute */
		if (any && ev == NULL)
			break;
	}
	if (any)
		return 1;
	return report(ctx, ip, sp, "anyOf",
				  "value must match at least one schema in \"anyOf\"");
}

/* Validate "oneOf": exactly one branch must pass. */
static int
validate_one_of(js_vctx *ctx, const js_node *node, json_t *inst,
				const js_path *ip, const js_path *sp, const js_scope *scope,
				js_eval *ev)
{
	js_path		kp = path_kw(sp, "oneOf");
	size_t		matches = 0;
	size_t		first = 0;
	size_t		i;

	for (i = 0; i < node->one_of.count; i++)
	{
		js_path		kpi = path_index(&kp, i);
		js_eval		tmp;
		int			r;

		if (ev && !eval_init(&tmp, ev->n))
			return validation_fail(ctx, ip, sp, "oneOf", "out of memory");
		r = validate_quiet(ctx, node->one_of.nodes[i], inst, ip, &kpi, scope,
						   ev ? &tmp : NULL);
		if (r == 1 && ev && matches == 0)
			eval_merge(ev, &tmp);
		if (ev)
			eval_free(&tmp);
		if (r < 0)
			return -1;
		if (r == 1 && matches++ == 0)
			first = i;
		else if (r == 1)
			return report(ctx, ip, sp, "oneOf",
						  "value must match exactly one schema in \"oneOf\", "
						  "but matches the schemas at indexes %zu and %zu",
						  first, i);
	}
	if (matches == 1)
		return 1;
	return report(ctx, ip, sp, "oneOf",
				  "value must match exactly one schema in \"oneOf\", but matches none");
}

/* Validate "if", "then" and "else". */
static int
validate_conditional(js_vctx *ctx, const js_node *node, json_t *inst,
					 const js_path *ip, const js_path *sp, const js_scope *scope,
					 js_eval *ev)
{
	js_path		kp = path_kw(sp, "if");
	int			r = validate_branch(ctx, node->if_schema, inst, ip, &kp, scope, ev);

	if (r < 0)
		return -1;
	if (r == 1 && node->then_schema)
	{
		kp = path_kw(sp, "then");
		return validate_node(ctx, node->then_schema, inst, ip, &kp, scope, ev);
	}
	if (r == 0 && node->else_schema)
	{
		kp = path_kw(sp, "else");
		return validate_node(ctx, node->else_schema, inst, ip, &kp, scope, ev);
	}
	return 1;
}

/*
 * Find the target of a "$dynamicRef": the outermost resource in the
 * dynamic scope defining the same "$dynamicAnchor" wins; without one, the
 * statically resolved target is used.  Each anchor looked at is a step
 * (a resource may have many); NULL if charge() failed.
 */
static const js_node *
dynamic_target(js_vctx *ctx, const js_node *node, const js_scope *scope,
			   const js_path *ip, const js_path *loc)
{
	const js_node *target = node->dynamic_ref;
	const js_scope *s;

	if (node->dynamic_name == NULL)
		return target;
	for (s = scope; s; s = s->up)
	{
		const js_anchor *a;

		for (a = s->resource->anchors; a; a = a->next)
		{
			if (charge(ctx, 1, ip, loc) < 0)
				return NULL;
			if (a->dynamic && a->node && strcmp(a->name, node->dynamic_name) == 0)
			{
				target = a->node;
				break;
			}
		}
	}
	return target;
}

/*
 * The number of the sequence "parent" followed by resource "res" (see
 * js_scope): "parent" itself if "res" is in it already.  JS_SIG_NONE once
 * JS_MAX_SIGS sequences are numbered (or out of memory).
 */
static unsigned
scope_sig(js_vctx *ctx, unsigned parent, const js_resource *res)
{
	unsigned	p;
	unsigned	i;

	if (parent == JS_SIG_NONE)
		return JS_SIG_NONE;
	for (p = parent; p != 0; p = ctx->sigs[p - 1].parent)
		if (ctx->sigs[p - 1].resource == res)
			return parent;
	for (i = 0; i < ctx->nsigs; i++)
		if (ctx->sigs[i].parent == parent && ctx->sigs[i].resource == res)
			return i + 1;
	if (ctx->nsigs == JS_MAX_SIGS)
		return JS_SIG_NONE;
	if (ctx->nsigs == ctx->sigs_cap)
	{
		unsigned	newcap = ctx->sigs_cap ? ctx->sigs_cap * 2 : 16;
		js_sig	   *sigs = js_mem_alloc(newcap * sizeof(js_sig));

		if (sigs == NULL)
			return JS_SIG_NONE;
		if (ctx->sigs)
			memcpy(sigs, ctx->sigs, ctx->nsigs * sizeof(js_sig));
		js_mem_free(ctx->sigs);
		ctx->sigs = sigs;
		ctx->sigs_cap = newcap;
	}
	ctx->sigs[ctx->nsigs].parent = parent;
	ctx->sigs[ctx->nsigs].resource = res;
	return ++ctx->nsigs;
}

/* Hash of a memo key. */
static inline size_t
memo_hash(const js_node *node, const json_t *inst, unsigned sig)
{
	uint64_t	h = hash_mix((uint64_t) (uintptr_t) node, (uint64_t) (uintptr_t) inst);

	return (size_t) hash_mix(h, sig);
}

/* The memo's entry for (node, inst, sig), or NULL. */
static js_memo_entry *
memo_find(const js_memo *memo, const js_node *node, const json_t *inst,
		  unsigned sig)
{
	size_t		i;

	if (memo->cap == 0)
	{
		for (i = 0; i < memo->count; i++)
		{
			const js_memo_entry *e = &memo->small[i];

			if (e->node == node && e->inst == inst && e->sig == sig)
				return (js_memo_entry *) e;
		}
		return NULL;
	}
	for (i = memo_hash(node, inst, sig) & (memo->cap - 1);
		 memo->slots[i].node != NULL;
		 i = (i + 1) & (memo->cap - 1))
	{
		if (memo->slots[i].node == node && memo->slots[i].inst == inst &&
			memo->slots[i].sig == sig)
			return &memo->slots[i];
	}
	return NULL;
}

/*
 * The memo's entry for (node, inst, sig), made (empty, has_bits false) if
 * it is not there.  NULL when the memo may not grow (out of memory, or at
 * JS_MEMO_MAX_BYTES): the caller then just does without.
 */
static js_memo_entry *
memo_slot(js_memo *memo, const js_node *node, const json_t *inst, unsigned sig)
{
	js_memo_entry *e = memo_find(memo, node, inst, sig);
	size_t		i;

	if (e)
		return e;
	if (memo->cap == 0 && memo->count < JS_MEMO_SMALL)
	{
		e = &memo->small[memo->count++];
		e->node = node;
		e->inst = inst;
		e->sig = sig;
		return e;
	}
	if (memo->count + 1 > memo->cap / 2)
	{
		size_t		newcap = memo->cap ? memo->cap * 2 : 64;
		size_t		size = newcap * sizeof(js_memo_entry);
		js_memo_entry *old = memo->cap ? memo->slots : memo->small;
		size_t		nold = memo->cap ? memo->cap : memo->count;
		js_memo_entry *slots;

		if (memo->bytes + size > JS_MEMO_MAX_BYTES ||
			(slots = js_mem_alloc(size)) == NULL)
			return NULL;
		memset(slots, 0, size);
		for (i = 0; i < nold; i++)
		{
			size_t		j;

			if (old[i].node == NULL)
				continue;
			for (j = memo_hash(old[i].node, old[i].inst, old[i].sig) & (newcap - 1);
				 slots[j].node != NULL;
				 j = (j + 1) & (newcap - 1))
				;
			slots[j] = old[i];
		}
		memo->bytes += size - memo->cap * sizeof(js_memo_entry);
		js_mem_free(memo->slots);
		memo->slots = slots;
		memo->cap = newcap;
	}
	for (i = memo_hash(node, inst, sig) & (memo->cap - 1);
		 memo->slots[i].node != NULL;
		 i = (i + 1) & (memo->cap - 1))
		;
	memo->count++;
	memo->slots[i].node = node;
	memo->slots[i].inst = inst;
	memo->slots[i].sig = sig;
	return &memo->slots[i];
}

/* Release the memo. */
static void
memo_free(js_memo *memo)
{
	size_t		i;

	if (memo->cap == 0)
	{
		for (i = 0; i < memo->count; i++)
			js_mem_free(memo->small[i].bits);
		return;
	}
	for (i = 0; i < memo->cap; i++)
		js_mem_free(memo->slots[i].bits);
	js_mem_free(memo->slots);
}

/*
 * Validate "inst" against "target", reached through "$ref" or
 * "$dynamicRef", remembering the outcome: a schema whose subschemas are
 * shared through references (a chain of "anyOf": [next, {"allOf":
 * [next]}]) would otherwise be evaluated an exponential number of times.
 *
 * Only references make subschemas shared, so they are the only place to
 * memoise.  An outcome is a pure function of (target, instance value,
 * what "$dynamicRef" sees of the dynamic scope (js_scope.sig, 0 when the
 * schema has no "$dynamicRef" that searches it)): the value is never
 * modified and the members/items evaluated are those of the value alone.
 * Not memoised, and bounded by the step budget only: scopes beyond
 * JS_MAX_SIGS.
 *
 * A memoised success is replayed in every mode (it reported no errors);
 * a failure only when errors are not being collected, since its errors
 * must be reported at this keyword location.  A result computed without
 * a record of evaluated members/items cannot serve a caller needing one.
 */
static int
validate_ref(js_vctx *ctx, const js_node *target, json_t *inst,
			 const js_path *ip, const js_path *loc, const js_scope *scope,
			 js_eval *ev)
{
	js_memo_entry *e;
	js_eval		tmp;
	int			r;

	if (target->is_bool || scope->sig == JS_SIG_NONE)
		return validate_node(ctx, target, inst, ip, loc, scope, ev);
	e = memo_find(&ctx->memo, target, inst, scope->sig);
	if (e && (e->rc == 1 || ctx->errors == NULL) && (ev == NULL || e->has_bits))
	{
		if (charge(ctx, 1, ip, loc) < 0)
			return -1;
		if (ev)
		{
			size_t		w;

			for (w = 0; w < (ev->n + 63) / 64; w++)
				ev->bits[w] |= e->bits[w];
		}
		return e->rc;
	}
	if (ev == NULL)
		r = validate_node(ctx, target, inst, ip, loc, scope, NULL);
	else
	{
		if (!eval_init(&tmp, ev->n))
			return validation_fail_at(ctx, ip, loc, "unevaluated", "out of memory");
		r = validate_node(ctx, target, inst, ip, loc, scope, &tmp);
		eval_merge(ev, &tmp);
	}
	if (r >= 0 && !ctx->stop && !ctx->failed &&
		(e = memo_slot(&ctx->memo, target, inst, scope->sig)) != NULL)
	{
		e->rc = r;
		if (ev && !e->has_bits)
		{
			size_t		size = (ev->n + 63) / 64 * sizeof(uint64_t);

			if (ctx->memo.bytes + size <= JS_MEMO_MAX_BYTES &&
				(e->bits = js_mem_alloc(size)) != NULL)
			{
				memcpy(e->bits, tmp.bits, size);
				e->has_bits = true;
				ctx->memo.bytes += size;
			}
		}
	}
	if (ev)
		eval_free(&tmp);
	return r;
}

/* Validate "$ref", "$dynamicRef", "allOf", "anyOf", "oneOf", "not" & co. */
static int
validate_applicators(js_vctx *ctx, const js_node *node, json_t *inst,
					 const js_path *ip, const js_path *sp, const js_scope *scope,
					 js_eval *ev)
{
	int			rc = 1;
	size_t		i;

	if (node->ref)
	{
		js_path		kp = path_kw(sp, "$ref");

		JS_MERGE(rc, validate_ref(ctx, node->ref, inst, ip, &kp, scope, ev));
	}
	if (node->dynamic_ref && !JS_DONE(ctx, rc))
	{
		js_path		kp = path_kw(sp, "$dynamicRef");
		const js_node *target = dynamic_target(ctx, node, scope, ip, &kp);

		if (target == NULL)
			return -1;
		JS_MERGE(rc, validate_ref(ctx, target, inst, ip, &kp, scope, ev));
	}
	for (i = 0; i < node->all_of.count && !JS_DONE(ctx, rc); i++)
	{
		js_path		kp = path_kw(sp, "allOf");
		js_path		kpi = path_index(&kp, i);

		JS_MERGE(rc, validate_node(ctx, node->all_of.nodes[i], inst, ip, &kpi, scope, ev));
	}
	if (node->any_of.count && !JS_DONE(ctx, rc))
		JS_MERGE(rc, validate_any_of(ctx, node, inst, ip, sp, scope, ev));
	if (node->one_of.count && !JS_DONE(ctx, rc))
		JS_MERGE(rc, validate_one_of(ctx, node, inst, ip, sp, scope, ev));
	if (node->not_schema && !JS_DONE(ctx, rc))
	{
		js_path		kp = path_kw(sp, "not");
		int			r = validate_quiet(ctx, node->not_schema, inst, ip, &kp, scope, NULL);

		if (r == 1)
			r = report(ctx, ip, sp, "not", "value must not match the schema in \"not\"");
		else if (r == 0)
			r = 1;
		JS_MERGE(rc, r);
	}
	if (node->if_schema && !JS_DONE(ctx, rc))
		JS_MERGE(rc, validate_conditional(ctx, node, inst, ip, sp, scope, ev));
	return rc;
}

/* ----------------------------------------------------------------
 * Validation of a schema
 * ----------------------------------------------------------------
 */

/* Does "node" need its own record of evaluated members/items of "inst"? */
static inline bool
needs_eval(const js_node *node, const json_t *inst)
{
	return (node->unevaluated_properties && json_is_object(inst)) ||
		(node->unevaluated_items && json_is_array(inst));
}

/* Validate the keywords of an object schema against "inst". */
static int
validate_keywords(js_vctx *ctx, const js_node *node, json_t *inst,
				  const js_path *ip, const js_path *sp, const js_scope *scope,
				  js_eval *ev)
{
	int			rc = validate_generic(ctx, node, inst, ip, sp);

	if (JS_DONE(ctx, rc))
		return rc;
	if (node->has_number && json_is_number(inst))
		JS_MERGE(rc, validate_number(ctx, node, inst, ip, sp));
	else if (node->has_string && json_is_string(inst))
		JS_MERGE(rc, validate_string(ctx, node, inst, ip, sp));
	else if (node->has_array && json_is_array(inst))
		JS_MERGE(rc, validate_array(ctx, node, inst, ip, sp, scope, ev));
	else if (node->has_object && json_is_object(inst))
		JS_MERGE(rc, validate_object(ctx, node, inst, ip, sp, scope, ev));
	if (node->has_applicator && !JS_DONE(ctx, rc))
		JS_MERGE(rc, validate_applicators(ctx, node, inst, ip, sp, scope, ev));
	return rc;
}

/*
 * Validate "inst" (at instance location "ip") against "node" (reached
 * through keyword location "sp").  "ev", if not NULL, receives the
 * members/items of "inst" this schema evaluated.  Returns 1, 0 or -1.
 */
static int
validate_node(js_vctx *ctx, const js_node *node, json_t *inst,
			  const js_path *ip, const js_path *sp, const js_scope *scope,
			  js_eval *ev)
{
	js_scope	inner;
	js_eval		own;
	js_eval    *mine = ev;
	int			rc;

	if (ctx->stop)
		return 0;
	if (charge(ctx, 1, ip, sp) < 0)
		return -1;
	if (node->is_bool)
	{
		if (node->bool_value)
			return 1;
		return report_at(ctx, ip, sp, "false",
						 "no value is allowed by a \"false\" schema");
	}
	if (ctx->depth >= JS_MAX_DEPTH)
		return validation_fail_at(ctx, ip, sp, "depth",
								  "schema evaluation is nested too deeply (possibly "
								  "an infinitely recursive \"$ref\")");
	if (node->resource != scope->resource)
	{
		inner.up = scope;
		inner.resource = node->resource;
		inner.sig = scope->sig;
		if (node->resource->dynamic && ctx->schema->scope_sensitive)
			inner.sig = scope_sig(ctx, scope->sig, node->resource);
		scope = &inner;
	}
	if (needs_eval(node, inst))
	{
		if (!eval_init(&own, json_is_object(inst) ? json_object_size(inst)
					   : json_array_size(inst)))
			return validation_fail_at(ctx, ip, sp, "unevaluated", "out of memory");
		mine = &own;
	}
	ctx->depth++;
	rc = validate_keywords(ctx, node, inst, ip, sp, scope, mine);
	if (mine != ev && !JS_DONE(ctx, rc))
		JS_MERGE(rc, validate_unevaluated(ctx, node, inst, ip, sp, scope, mine));
	ctx->depth--;
	if (mine != ev)
	{
		if (ev && rc == 1)
			eval_merge(ev, mine);
		eval_free(&own);
	}
	return rc;
}

/* ----------------------------------------------------------------
 * Public entry points
 * ----------------------------------------------------------------
 */

/*
 * Is "uri" the meta-schema of draft 2020-12 or draft-07 (with or without
 * the empty fragment, by http or https)?  Sets *draft if so.
 */
static bool
known_dialect(const char *uri, js_draft *draft)
{
	size_t		len = strlen(uri);

	if (len > 0 && uri[len - 1] == '#')
		len--;
	if (strncmp(uri, "http://", 7) == 0)
	{
		uri += 7;
		len -= 7;
	}
	else if (strncmp(uri, "https://", 8) == 0)
	{
		uri += 8;
		len -= 8;
	}
	if (len == 36 && strncmp(uri, "json-schema.org/draft/2020-12/schema", 36) == 0)
	{
		*draft = JS_DRAFT_2020_12;
		return true;
	}
	if (len == 31 && strncmp(uri, "json-schema.org/draft-07/schema", 31) == 0)
	{
		*draft = JS_DRAFT_7;
		return true;
	}
	return false;
}

/*
 * Read the "$vocabulary" of the schema's meta-schema (draft 2020-12):
 * keywords of the vocabularies it leaves out are ignored; one it requires
 * (true) that the validator does not know is an error, as the
 * specification asks.  Without "$vocabulary", every vocabulary is used.
 */
static bool
read_vocabularies(js_cctx *cc, const json_t *vocabulary, const js_path *path)
{
	static const struct
	{
		const char *name;
		unsigned	bit;		/* 0: always on (or an annotation) */
	}			known[] =
	{
		{"core", 0},
		{"applicator", JS_V_APPLICATOR},
		{"unevaluated", JS_V_UNEVALUATED},
		{"validation", JS_V_VALIDATION},
		{"meta-data", 0},
		{"format-annotation", 0},
		{"content", 0},
	};
	const char *prefix = "https://json-schema.org/draft/2020-12/vocab/";
	const char *uri;
	json_t	   *required;

	if (vocabulary == NULL || cc->draft != JS_DRAFT_2020_12)
		return true;
	if (!json_is_object(vocabulary))
		return compile_error(cc, path, "the meta-schema's \"$vocabulary\" must be an object");
	cc->vocab = 0;
	json_object_foreach((json_t *) vocabulary, uri, required)
	{
		size_t		i;
		bool		found = false;

		if (strncmp(uri, prefix, strlen(prefix)) == 0)
		{
			for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			{
				if (strcmp(uri + strlen(prefix), known[i].name) == 0)
				{
					cc->vocab |= known[i].bit;
					found = true;
				}
			}
		}
		if (!found && json_is_true(required))
			return compile_error(cc, path, "the meta-schema requires vocabulary "
								 "\"%s\", which is not supported", uri);
	}
	return true;
}

/*
 * Ignore the keywords of "node" that belong to vocabularies the schema's
 * meta-schema leaves out (compiled like the others, then dropped).
 */
static void
restrict_vocabularies(const js_cctx *cc, js_node *node, const json_t *s)
{
	if (!(cc->vocab & JS_V_VALIDATION))
	{
		node->types = 0;
		node->enum_values = NULL;
		node->const_value = NULL;
		node->has_const = false;
		node->minimum = node->maximum = NULL;
		node->exclusive_minimum = node->exclusive_maximum = NULL;
		node->multiple_of = NULL;
		node->min_length = node->max_length = -1;
		node->pattern = NULL;
		node->min_items = node->max_items = -1;
		node->unique_items = false;
		node->min_contains = node->max_contains = -1;
		node->min_properties = node->max_properties = -1;
		node->required = NULL;
		node->ndependent_required = 0;
	}
	if (!(cc->vocab & JS_V_APPLICATOR))
	{
		node->prefix_items.count = 0;
		node->items = node->contains = NULL;
		node->nproperties = node->npattern_properties = 0;
		node->additional_properties = node->property_names = NULL;
		node->ndependent_schemas = 0;
		node->all_of.count = node->any_of.count = node->one_of.count = 0;
		node->not_schema = node->if_schema = node->then_schema = node->else_schema = NULL;
	}
	if (!(cc->vocab & JS_V_UNEVALUATED))
		node->unevaluated_items = node->unevaluated_properties = NULL;
	node->has_number = node->minimum || node->maximum || node->exclusive_minimum ||
		node->exclusive_maximum || node->multiple_of;
	node->has_string = node->min_length >= 0 || node->max_length >= 0 || node->pattern;
	node->has_array = node->prefix_items.count || node->items || node->contains ||
		node->unevaluated_items || node->min_items >= 0 || node->max_items >= 0 ||
		node->unique_items;
	node->has_object = node->required || node->nproperties || node->npattern_properties ||
		node->additional_properties || node->property_names ||
		node->unevaluated_properties || node->min_properties >= 0 ||
		node->max_properties >= 0 || node->ndependent_required ||
		node->ndependent_schemas;
	node->has_applicator = node->all_of.count || node->any_of.count ||
		node->one_of.count || node->not_schema || node->if_schema ||
		json_object_get(s, "$ref") || json_object_get(s, "$dynamicRef");
}

/*
 * Determine the dialect from the root's "$schema".  Anything but draft
 * 2020-12 (the default) and draft-07 is rejected.
 */
static bool
detect_draft(js_cctx *cc, const json_t *schema, js_draft default_draft)
{
	json_t	   *v = json_is_object(schema) ? json_object_get(schema, "$schema") : NULL;
	js_path		p = path_kw(NULL, "$schema");
	js_draft	draft;
	json_t	   *meta;
	size_t		len;

	cc->draft = default_draft;
	cc->vocab = JS_V_ALL;
	if (v == NULL)
		return true;
	if (!json_is_string(v))
		return compile_error(cc, &p, "\"$schema\" must be a string");
	if (known_dialect(json_string_value(v), &draft))
	{
		cc->draft = draft;
		return true;
	}

	/* a custom meta-schema: its own "$schema" is the dialect */
	len = strcspn(json_string_value(v), "#");
	meta = fetch_document(cc, json_string_value(v), len);
	if (meta == NULL)
	{
		if (cc->oom)
			return false;
		return compile_error(cc, &p, "unsupported \"$schema\" \"%s\": only draft "
							 "2020-12, draft-07 and known meta-schemas of theirs "
							 "are supported", json_string_value(v));
	}
	v = json_is_object(meta) ? json_object_get(meta, "$schema") : NULL;
	if (v == NULL || !json_is_string(v) || !known_dialect(json_string_value(v), &draft))
		return compile_error(cc, &p, "meta-schema \"%.*s\" is not one of draft "
							 "2020-12 or draft-07", (int) len,
							 json_string_value(json_object_get(schema, "$schema")));
	cc->draft = draft;
	return read_vocabularies(cc, json_object_get(meta, "$vocabulary"), &p);
}

/*
 * Compile the pending references and dynamic anchors until none is
 * left; targets compiled here may queue further references.
 */
static bool
compile_pending(js_cctx *cc)
{
	js_resource *r;
	js_anchor  *a;
	size_t		i;

	for (r = cc->schema->resources; r; r = r->next)
		for (a = r->anchors; a; a = a->next)
			if (a->dynamic && !link_node(cc, &a->node, a->target, r))
				return false;
	for (i = 0; i < cc->npending; i++)
	{
		js_pending	p = cc->pending[i];
		js_node    *n = compile_schema(cc, p.target, p.resource, NULL, 0);

		if (n == NULL)
			return false;
		*p.slot = n;
	}
	return true;
}

/*
 * The k-th schema that "node" applies unconditionally to the same
 * instance ("$ref", static "$dynamicRef", "allOf"), or NULL past the end.
 */
static const js_node *
inplace_edge(const js_node *node, size_t k)
{
	if (k == 0)
		return node->ref;
	if (k == 1)
		return node->dynamic_name ? NULL : node->dynamic_ref;
	if (k - 2 < node->all_of.count)
		return node->all_of.nodes[k - 2];
	return NULL;
}

/* Does inplace_edge() have a k-th entry (possibly NULL)? */
static bool
inplace_edge_exists(const js_node *node, size_t k)
{
	return k < 2 + node->all_of.count;
}

/*
 * Reject cycles of "$ref"/"allOf" edges: such a schema would apply itself
 * to the same value forever.  An iterative depth-first search marks nodes
 * 1 while on the stack and 2 when done, so long reference chains cannot
 * exhaust the C stack.
 */
static bool
check_cycles(js_cctx *cc)
{
	typedef struct
	{
		js_node    *node;
		size_t		edge;
	}			frame;
	frame	   *stack = js_mem_alloc((cc->nodes.count + 1) * sizeof(frame));
	size_t		slot;
	bool		ok = true;

	if (stack == NULL)
		return compile_oom(cc);
	for (slot = 0; slot < cc->nodes.cap && ok; slot++)
	{
		size_t		depth = 0;
		js_node    *start = cc->nodes.values[slot];

		if (cc->nodes.keys[slot] == NULL || start->visit != 0)
			continue;
		stack[depth].node = start;
		stack[depth++].edge = 0;
		start->visit = 1;
		while (depth > 0 && ok)
		{
			frame	   *top = &stack[depth - 1];
			js_node    *next;

			if (!inplace_edge_exists(top->node, top->edge))
			{
				top->node->visit = 2;
				depth--;
				continue;
			}
			next = (js_node *) inplace_edge(top->node, top->edge++);
			if (next == NULL || next->visit == 2)
				continue;
			if (next->visit == 1)
				ok = compile_error(cc, NULL, "a cycle of \"$ref\" or \"allOf\" "
								   "keywords applies a schema to the same value "
								   "without end");
			else
			{
				next->visit = 1;
				stack[depth].node = next;
				stack[depth++].edge = 0;
			}
		}
	}
	js_mem_free(stack);
	return ok;
}

/* Run all compilation passes over the document. */
static bool
compile_document(js_cctx *cc, json_t *document, js_draft default_draft)
{
	js_resource *base;

	if (!detect_draft(cc, document, default_draft))
		return false;
	cc->schema->draft = cc->draft;
	base = add_resource(cc, document, "", 0, NULL);
	if (base == NULL || !register_walk(cc, document, base, NULL, 0))
		return false;
	cc->schema->root = compile_schema(cc, document, base, NULL, 0);
	return cc->schema->root != NULL && compile_pending(cc) && check_cycles(cc);
}

/* Compile a schema document (default dialect 2020-12); see json_schema.h. */
js_schema *
js_compile(json_t *schema, const js_regex_ops *regex, char **errmsg)
{
	return js_compile_draft(schema, JS_DRAFT_2020_12, regex, errmsg);
}

/* Compile a schema document with a given default dialect. */
js_schema *
js_compile_draft(json_t *schema, js_draft default_draft,
				 const js_regex_ops *regex, char **errmsg)
{
	js_compile_options opts;

	memset(&opts, 0, sizeof(opts));
	opts.default_draft = default_draft;
	opts.regex = regex;
	return js_compile_opts(schema, &opts, errmsg);
}

/* Compile a schema document with options; see json_schema.h. */
js_schema *
js_compile_opts(json_t *schema, js_compile_options *opts, char **errmsg)
{
	js_cctx		cc;
	js_schema  *result;
	bool		ok;
	const js_regex_ops *regex = opts ? opts->regex : NULL;
	js_draft	default_draft = opts ? opts->default_draft : JS_DRAFT_2020_12;

	if (errmsg)
		*errmsg = NULL;
	memset(&cc, 0, sizeof(cc));
	if (schema == NULL || (result = js_mem_alloc(sizeof(*result))) == NULL)
	{
		if (errmsg)
			*errmsg = js_mem_strdup(schema ? "out of memory" : "no schema given");
		return NULL;
	}
	memset(result, 0, sizeof(*result));
	result->document = json_incref(schema);
	if (regex && regex->compile && regex->match && regex->release)
	{
		result->regex = *regex;
		result->has_regex = true;
	}
	cc.schema = result;
	if (opts)
	{
		cc.load = opts->load;
		cc.load_arg = opts->load_arg;
		cc.max_steps = opts->max_steps;
		cc.interrupt = opts->interrupt;
		cc.interrupt_arg = opts->interrupt_arg;
		cc.next_interrupt = JS_INTERRUPT_STEPS;
	}
	ok = compile_document(&cc, schema, default_draft) && cc.errmsg == NULL;
	if (opts)
		opts->failure = cc.failure;
	ptr_map_free(&cc.nodes);
	ptr_map_free(&cc.resources);
	name_map_free(&cc.names);
	js_mem_free(cc.pending);
	if (ok)
		return result;
	if (errmsg)
		*errmsg = cc.errmsg ? cc.errmsg : js_mem_strdup("out of memory");
	else
		js_mem_free(cc.errmsg);
	js_free(result);
	return NULL;
}

/* Whether compiling the schema called the load hook. */
bool
js_schema_loaded_documents(const js_schema *schema)
{
	return schema->loaded;
}

/* The dialect of a compiled schema. */
js_draft
js_schema_draft(const js_schema *schema)
{
	return schema->draft;
}

/* Free a compiled schema, releasing its regexes and document reference. */
void
js_free(js_schema *schema)
{
	js_regex_handle *h;
	js_document *d;

	if (schema == NULL)
		return;
	for (h = schema->regexes; h; h = h->next)
		schema->regex.release(schema->regex.arg, h->handle);
	for (d = schema->documents; d; d = d->next)
		json_decref(d->json);
	json_decref(schema->document);
	arena_free(&schema->arena);
	js_mem_free(schema);
}

/* Validate an instance; see json_schema.h. */
int
js_validate(const js_schema *schema, json_t *instance, js_error_list *errors)
{
	return js_validate_limited(schema, instance, errors, NULL);
}

/* Validate an instance within limits; see json_schema.h. */
int
js_validate_limited(const js_schema *schema, json_t *instance,
					js_error_list *errors, js_limits *limits)
{
	js_vctx		ctx;
	js_scope	scope;
	size_t		before = errors ? errors->count : 0;
	int			rc;

	if (schema == NULL || instance == NULL)
		return -1;
	memset(&ctx, 0, sizeof(ctx));
	ctx.schema = schema;
	ctx.errors = errors;
	ctx.next_check = ULLONG_MAX;
	if (limits)
	{
		ctx.max_steps = limits->max_steps;
		ctx.interrupt = limits->interrupt;
		ctx.interrupt_arg = limits->arg;
		ctx.next_interrupt = JS_INTERRUPT_STEPS;
		if (ctx.interrupt)
			ctx.next_check = ctx.next_interrupt;
		if (ctx.max_steps && ctx.max_steps < ctx.next_check)
			ctx.next_check = ctx.max_steps + 1;
	}
	scope.up = NULL;
	scope.resource = schema->root->resource;
	scope.sig = 0;
	if (scope.resource->dynamic && schema->scope_sensitive)
		scope.sig = scope_sig(&ctx, 0, scope.resource);
	rc = validate_node(&ctx, schema->root, instance, NULL, NULL, &scope, NULL);
	memo_free(&ctx.memo);
	js_mem_free(ctx.sigs);
	while (ctx.nnames > 0)
		json_decref(ctx.names[--ctx.nnames]);
	js_mem_free(ctx.names);
	if (limits)
	{
		limits->steps = ctx.steps;
		limits->failure = ctx.failed ? ctx.fail_kw : NULL;
	}
	if (ctx.failed)
	{
		rc = -1;
		/* the failure entry goes in even beyond the list's limit */
		if (errors)
			(void) error_list_append(errors, ctx.fail_instance, ctx.fail_keyword,
									 ctx.fail_kw, ctx.fail_msg);
		else
		{
			js_mem_free(ctx.fail_instance);
			js_mem_free(ctx.fail_keyword);
			js_mem_free(ctx.fail_msg);
		}
	}
	else if (errors && errors->count > before)
		rc = 0;
	return rc;
}
