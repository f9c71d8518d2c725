/*-------------------------------------------------------------------------
 *
 * agent_limits.h
 *		Per-agent-type limits of running tasks and of the rate of starts,
 *		as the claims of workers and external agents apply them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_AGENT_LIMITS_H
#define MC_AGENT_LIMITS_H

#include "postgres.h"

#include "datatype/timestamp.h"

/*
 * The most tokens the rate's bucket of executors row e holds: the starts
 * that may go at once, a tenth of the rate, at least one.
 */
#define MC_RATE_BURST(e) \
	"GREATEST(1, pg_catalog.ceil(" e ".rate / 10.0))::pg_catalog.float8"

/*
 * The limited agent types a claim may take tasks of, and what it may take
 * (reserved in shared memory, or their rows locked: agent_limits.c)
 */
typedef struct McLimits
{
	int			n;				/* how many */
	bool		any_room;		/* whether any of them may start a task now */
	bool		binding;		/* whether any allows fewer than the claim may take */
	Datum		types;			/* text[]: the agent types */
	Datum		allows;			/* int4[]: how many more tasks of each may start */
	Datum		tokens;			/* rows locked: float8[], the rate's tokens at
								 * "at" (NULL: no rate) */
	TimestampTz at;				/* when the tokens were counted */
	struct McLimitAsk *asks;	/* reserved in shared memory: what (else NULL) */
} McLimits;

extern bool mc_limits_take(const char *agent_type, int cap, McLimits *limits);
extern void mc_limits_settle(McLimits *limits, uint64 rows, int type_column);

#endif							/* MC_AGENT_LIMITS_H */
