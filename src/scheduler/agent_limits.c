/*-------------------------------------------------------------------------
 *
 * agent_limits.c
 *		Per-agent-type limits: how many tasks of an agent type may run at
 *		once (max_running) and start per interval (rate per rate_per),
 *		across all workflows and roles, whoever runs them.
 *
 * Both kinds of claim (a scheduler worker's, for function executors, and
 * claim_tasks, for external agents) go through mc_claim_run, which asks
 * mc_limits_take first, and takes no more tasks of each limited type than
 * it allows.
 *
 * On a single server with the library preloaded, a claim reserves what it
 * may take in a table in shared memory (limit_slots.c), which counts what
 * the claims of transactions not yet ended took, and holds each rate's
 * token bucket: claims of a limited type do not wait for each other, and
 * the claim statement writes nothing more than without limits.  It counts
 * the type's running tasks only when the count the table keeps (grown by
 * the claims committed since) would hold it back, and gives back, once the
 * claim statement has run, what it reserved and did not take
 * (mc_limits_settle).
 *
 * On Citus (whose transactions commit on the worker nodes after the
 * coordinator's) and without shared memory, a claim locks the executors
 * rows of the limited agent types the claim may take tasks of, in agent
 * type order, and holds the locks until the claim's transaction ends: the
 * claims of a limited agent type take turns, so each one counts the
 * others' committed claims.  The rate's bucket is then on the row: the
 * claim statement writes what is left, and when (CLAIM_DEBIT).
 *
 * Either way the running count is counted from the running tasks' partial
 * index (task_states_running_idx), and only ever used grown by what started
 * since.  So it is right whatever ended an attempt (completion, failure,
 * lapsed lease, release, cancel, a crashed worker's recovery), and a
 * change of limits takes effect at the next claim.  The rate is a token bucket: it refills
 * at rate per rate_per, holds at most a tenth of rate (at least one:
 * MC_RATE_BURST), and each claimed task takes one.  So over any time T at
 * most rate * T / rate_per tasks start, plus that burst: with 10 a second,
 * at most 51 in 5 seconds (a restart fills the shared buckets again).
 *
 * Without limits, a claim costs one look at the (small) executors table.
 * A worker's claim whose limits allow fewer tasks than it may take tells
 * the launcher (mc_note_limits_held), which then pushes again the
 * workflows with ready tasks of limited function types, as long as claims
 * are held back (a worker drops a workflow whose tasks a limit held
 * back); limits that never bind cost the launcher nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "agent_limits.h"
#include "catalog.h"
#include "citus.h"
#include "limit_slots.h"
#include "shmem.h"

/* the columns of row_lock_take's statement: one agent type with limits */
enum
{
	LIMITED_AGENT_TYPE = 1,
	LIMITED_MAX_RUNNING,
	LIMITED_TOKENS				/* its rate's tokens now (NULL: no rate) */
};

/* the columns of slots_take's statement: one agent type with limits */
enum
{
	LOOKED_AGENT_TYPE = 1,
	LOOKED_MAX_RUNNING,
	LOOKED_RATE,
	LOOKED_RATE_PER,			/* seconds */
	LOOKED_XMIN					/* the row's version */
};

/*
 * The executors rows e of the agent types with limits that a claim may take
 * tasks of: of agent type $1, or with $1 NULL of every function executor
 * (partial index executors_limited_idx).
 */
#define LIMITED_TYPES_OF_CLAIM \
	"WHERE (e.max_running IS NOT NULL OR e.rate IS NOT NULL) " \
	"  AND CASE WHEN $1::pg_catalog.text IS NULL THEN e.executor IS NOT NULL " \
	"    ELSE e.agent_type = $1 END "

/*
 * citus_count_running
 *		The count of mc_limits_take on Citus, which refuses the plain
 *		statement's correlated subquery beside unnest: the running tasks of
 *		each of the n agent types types[i] that has a max_running (not
 *		unbounded[i]), counted by a statement of its own up to that
 *		max_running, lower allows[i] to what is left of it.
 */
static void
citus_count_running(Datum *types, Datum *max_running, bool *unbounded,
					Datum *allows, int n)
{
	static const Oid argtypes[] = {TEXTOID, INT4OID};
	Datum		values[2];
	int			i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;
		int32		running;

		if (unbounded[i])
			continue;
		values[0] = types[i];
		values[1] = max_running[i];
		(void) mc_catalog_run(MC_PLAN_CITUS_LIMITS_RUNNING,
							  "SELECT pg_catalog.count(*)::pg_catalog.int4 FROM "
							  "  (SELECT 1 FROM mycelium.task_states t "
							  "   WHERE t.agent_type = $1 AND t.status = 'running' "
							  "     AND t.task_no >= 0 "
							  "   LIMIT $2) r",
							  2, argtypes, values, NULL, 1);
		running = DatumGetInt32(mc_catalog_value(0, MC_ONLY_COLUMN, &isnull));
		allows[i] = Int32GetDatum(Max(Min(DatumGetInt32(allows[i]),
										  DatumGetInt32(max_running[i]) - running), 0));
	}
}

/*
 * count_running
 *		Counts, in one statement with a new snapshot, the running tasks of
 *		each of the n agent types types[i], up to its max_running[i] (no
 *		more is needed), into running[i].
 */
static void
count_running(Datum *types, Datum *max_running, int n, int32 *running)
{
	static const Oid argtypes[] = {TEXTARRAYOID, INT4ARRAYOID};
	Datum		values[2];
	uint64		rows;
	uint64		i;

	values[0] = mc_catalog_array(types, n, TEXTOID);
	values[1] = mc_catalog_array(max_running, n, INT4OID);
	rows = mc_catalog_run(MC_PLAN_LIMITS_RUNNING,
						  "SELECT (SELECT pg_catalog.count(*)::pg_catalog.int4 FROM "
						  "  (SELECT 1 FROM mycelium.task_states t "
						  "   WHERE t.agent_type = l.agent_type AND t.status = 'running' "
						  "     AND t.task_no >= 0 "
						  "   LIMIT l.max_running) r) "
						  "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), "
						  "  pg_catalog.unnest($2::pg_catalog.int4[])) WITH ORDINALITY "
						  "  AS l(agent_type, max_running, i) "
						  "ORDER BY l.i",
						  2, argtypes, values, NULL, 0);
	for (i = 0; i < rows; i++)
	{
		bool		isnull;

		running[i] = DatumGetInt32(mc_catalog_value(i, MC_ONLY_COLUMN, &isnull));
	}
}

/*
 * row_lock_take
 *		mc_limits_take on Citus and without shared memory: locks the
 *		executors rows of the limited types (held until the claim's
 *		transaction ends, so that claims of a type take turns, each counting
 *		the others' committed claims), refills their rate's tokens, which
 *		the claim statement writes back (CLAIM_DEBIT), and counts their
 *		running tasks.  Fills in allows, tokens and max_running as
 *		mc_limits_take says; returns the number of limited types.
 */
static int
row_lock_take(const char *agent_type, Datum *values, char *nulls,
			  McLimits *limits, Datum **types_out, Datum **allows_out)
{
	static const Oid argtypes[] = {TEXTOID, TIMESTAMPTZOID};
	Datum	   *types;
	Datum	   *allows;
	Datum	   *tokens;
	bool	   *tokens_null;
	Datum	   *max_running;
	bool	   *unbounded;
	int			dims[1];
	int			lbs[1] = {1};
	int			nbounded = 0;
	uint64		n;
	uint64		i;

	/*
	 * The rows' latest versions, locked (a claim that waited for another
	 * reads what that one wrote), and the rate's tokens they hold now.
	 */
	n = mc_catalog_run(MC_PLAN_LIMITS_LOCK,
					   "SELECT e.agent_type, e.max_running, "
					   "  CASE WHEN e.rate IS NOT NULL THEN LEAST(" MC_RATE_BURST("e") ", "
					   "    COALESCE(e.rate_tokens, e.rate) + e.rate * "
					   "    GREATEST(pg_catalog.date_part('epoch', $2 - e.rate_at), 0) / "
					   "    pg_catalog.date_part('epoch', e.rate_per)) END "
					   "FROM mycelium.executors e "
					   LIMITED_TYPES_OF_CLAIM
					   "ORDER BY e.agent_type FOR NO KEY UPDATE",
					   2, argtypes, values, nulls, 0);
	if (n == 0)
		return 0;

	types = palloc(sizeof(Datum) * n);
	allows = palloc(sizeof(Datum) * n);
	tokens = palloc(sizeof(Datum) * n);
	tokens_null = palloc(sizeof(bool) * n);
	max_running = palloc(sizeof(Datum) * n);
	unbounded = palloc(sizeof(bool) * n);
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d;
		double		allow = PG_INT32_MAX;

		types[i] = CStringGetTextDatum(mc_catalog_text(i, LIMITED_AGENT_TYPE));
		d = mc_catalog_value(i, LIMITED_MAX_RUNNING, &isnull);
		unbounded[i] = isnull;
		max_running[i] = isnull ? Int32GetDatum(0) : d;
		nbounded += isnull ? 0 : 1;
		d = mc_catalog_value(i, LIMITED_TOKENS, &isnull);
		tokens_null[i] = isnull;
		tokens[i] = isnull ? Float8GetDatum(0) : d;
		if (!isnull)
			allow = Min(allow, floor(DatumGetFloat8(d)));
		allows[i] = Int32GetDatum((int32) Max(allow, 0));
	}

	/*
	 * The running tasks of the types with max_running, counted now that
	 * the rows are locked: this statement's snapshot sees every claim
	 * committed before the lock was had (the locking statement's may not).
	 * The count stops at max_running: no more is needed.
	 */
	if (nbounded > 0 && mc_citus_present())
		citus_count_running(types, max_running, unbounded, allows, (int) n);
	else if (nbounded > 0)
	{
		int32	   *running = palloc(sizeof(int32) * n);

		count_running(types, max_running, (int) n, running);
		for (i = 0; i < n; i++)
			if (!unbounded[i])
				allows[i] = Int32GetDatum(Max(Min(DatumGetInt32(allows[i]),
												  DatumGetInt32(max_running[i]) - running[i]),
											  0));
	}
	dims[0] = (int) n;
	limits->tokens = PointerGetDatum(construct_md_array(tokens, tokens_null, 1, dims,
														lbs, FLOAT8OID,
														sizeof(float8),
														FLOAT8PASSBYVAL,
														TYPALIGN_DOUBLE));
	*types_out = types;
	*allows_out = allows;
	return (int) n;
}

/*
 * slots_take
 *		mc_limits_take with the table of reservations in shared memory
 *		(limit_slots.c): reads the limited types and their limits, without
 *		locks; counts the running tasks of those whose count the table does
 *		not keep, or keeps too high to leave the claim its cap; and reserves
 *		there what each leaves the claim.  Returns the number of limited
 *		types.
 */
static int
slots_take(const char *agent_type, int cap, Datum *values, char *nulls,
		   McLimits *limits, Datum **types_out, Datum **allows_out)
{
	static const Oid argtypes[] = {TEXTOID};
	Datum	   *types;
	Datum	   *allows;
	McLimitAsk *asks;
	uint64		n;
	uint64		i;

	n = mc_catalog_run(MC_PLAN_LIMITS_LOOK,
					   "SELECT e.agent_type, e.max_running, e.rate, "
					   "  pg_catalog.date_part('epoch', e.rate_per), "
					   "  e.xmin::pg_catalog.text::pg_catalog.int8 "
					   "FROM mycelium.executors e "
					   LIMITED_TYPES_OF_CLAIM,
					   1, argtypes, values, nulls, 0);
	if (n == 0)
		return 0;

	types = palloc(sizeof(Datum) * n);
	allows = palloc(sizeof(Datum) * n);
	asks = palloc0(sizeof(McLimitAsk) * n);
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d;

		asks[i].agent_type = mc_catalog_text(i, LOOKED_AGENT_TYPE);
		types[i] = CStringGetTextDatum(asks[i].agent_type);
		d = mc_catalog_value(i, LOOKED_MAX_RUNNING, &isnull);
		asks[i].max_running = isnull ? -1 : DatumGetInt32(d);
		d = mc_catalog_value(i, LOOKED_RATE, &isnull);
		asks[i].rate = isnull ? 0 : (double) DatumGetInt32(d);
		d = mc_catalog_value(i, LOOKED_RATE_PER, &isnull);
		asks[i].rate_per = isnull ? 1 : DatumGetFloat8(d);
		d = mc_catalog_value(i, LOOKED_XMIN, &isnull);
		asks[i].limits_xmin = (uint32) DatumGetInt64(d);
	}

	/* the running tasks of the types whose kept count will not do */
	if (mc_limit_slots_cached(asks, (int) n, cap))
	{
		uint64		ended = mc_limit_slots_ended();
		Datum	   *ctypes = palloc(sizeof(Datum) * n);
		Datum	   *cmax = palloc(sizeof(Datum) * n);
		int32	   *running = palloc(sizeof(int32) * n);
		int			ncount = 0;
		int			k = 0;

		for (i = 0; i < n; i++)
			if (asks[i].running < 0)
			{
				ctypes[ncount] = types[i];
				cmax[ncount++] = Int32GetDatum(asks[i].max_running);
			}
		count_running(ctypes, cmax, ncount, running);
		for (i = 0; i < n; i++)
			if (asks[i].running < 0)
			{
				asks[i].running = running[k++];
				asks[i].ended_before = ended;
				asks[i].exact = asks[i].running < asks[i].max_running;
			}
	}
	mc_limit_slots_reserve(asks, (int) n, cap);
	for (i = 0; i < n; i++)
		allows[i] = Int32GetDatum(asks[i].reserved);
	limits->asks = asks;
	*types_out = types;
	*allows_out = allows;
	return (int) n;
}

/*
 * mc_limits_take
 *		Takes for a claim of at most cap tasks (of agent_type, or with NULL
 *		of every function executor) what the limits of those agent types
 *		leave it: sets how many more tasks of each limited type may start
 *		now, and whether any of them allows fewer than cap (the limits may
 *		hold tasks back: a worker's claim then tells the launcher).  With
 *		the table in shared memory, reserves them there (the claim then
 *		settles with mc_limits_settle); on Citus, locks the types' rows.
 *		Returns whether there is any limited type.
 */
bool
mc_limits_take(const char *agent_type, int cap, McLimits *limits)
{
	Datum		values[2];
	char		nulls[2];
	Datum	   *types = NULL;
	Datum	   *allows = NULL;
	int			i;

	memset(limits, 0, sizeof(McLimits));
	limits->at = GetCurrentTimestamp();
	values[0] = agent_type ? CStringGetTextDatum(agent_type) : (Datum) 0;
	nulls[0] = agent_type ? ' ' : 'n';
	values[1] = TimestampTzGetDatum(limits->at);
	nulls[1] = ' ';

	if (mc_limit_slots_available() && !mc_citus_present())
		limits->n = slots_take(agent_type, cap, values, nulls, limits,
							   &types, &allows);
	else
		limits->n = row_lock_take(agent_type, values, nulls, limits,
								  &types, &allows);
	if (limits->n == 0)
		return false;

	for (i = 0; i < limits->n; i++)
	{
		limits->any_room |= DatumGetInt32(allows[i]) > 0;
		limits->binding |= DatumGetInt32(allows[i]) < cap;
	}
	if (limits->binding && agent_type == NULL)
		mc_note_limits_held();
	limits->types = mc_catalog_array(types, limits->n, TEXTOID);
	limits->allows = mc_catalog_array(allows, limits->n, INT4OID);
	return true;
}

/*
 * mc_limits_settle
 *		After a claim statement that mc_limits_take's reservations allowed
 *		(in shared memory), gives back what the claim did not take: its
 *		rows (0 to rows - 1 of the last result) hold each claimed task's
 *		agent type in column type_column.  Nothing to do on Citus, where
 *		the claim statement wrote the rows' tokens itself.
 */
void
mc_limits_settle(McLimits *limits, uint64 rows, int type_column)
{
	int32	   *taken;
	uint64		r;
	int			i;

	if (limits->asks == NULL)
		return;
	taken = palloc0(sizeof(int32) * limits->n);
	for (r = 0; r < rows; r++)
	{
		char	   *type = mc_catalog_text(r, type_column);

		for (i = 0; i < limits->n; i++)
			if (strcmp(type, limits->asks[i].agent_type) == 0)
			{
				taken[i]++;
				break;
			}
	}
	mc_limit_slots_settle(limits->asks, limits->n, taken);
	pfree(taken);
}
