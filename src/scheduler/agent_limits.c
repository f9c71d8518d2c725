/*-------------------------------------------------------------------------
 *
 * agent_limits.c
 *		Per-agent-type limits: how many tasks of an agent type may run at
 *		once (max_running) and start per interval (rate per rate_per),
 *		across all workflows and roles, whoever runs them.
 *
 * Both kinds of claim (a scheduler worker's, for function executors, and
 * claim_tasks, for external agents) go through mc_claim_run, which asks
 * mc_limits_take first.  It locks the executors rows of the limited agent
 * types the claim may take tasks of, in agent type order, and holds the
 * locks until the claim's transaction ends: the claims of a limited agent
 * type take turns, so each one counts the others' committed claims.
 *
 * The running count is not kept anywhere: it is counted, after the lock
 * is held, from the running tasks' partial index (task_states_running_idx).
 * So it is right whatever ended an attempt (completion, failure, lapsed
 * lease, release, cancel, a crashed worker's recovery), and a change of
 * limits takes effect at the next claim.  The rate is a token bucket on
 * the row: it refills at rate per rate_per, holds at most a tenth of rate
 * (at least one: MC_RATE_BURST), and each claimed task takes one (the
 * claim statement writes what is left, and when; a claim that takes none
 * writes nothing).  So over any time T at most
 * rate * T / rate_per tasks start, plus that burst: with 10 a second, at
 * most 51 in 5 seconds.
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
#include "shmem.h"

/* the columns of mc_limits_take's statement: one agent type with limits */
enum
{
	LIMITED_AGENT_TYPE = 1,
	LIMITED_MAX_RUNNING,
	LIMITED_TOKENS				/* its rate's tokens now (NULL: no rate) */
};
#include "citus.h"

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
 * mc_limits_take
 *		Locks the executors rows of the agent types with limits that a
 *		claim of at most cap tasks may take tasks of (agent_type, or with
 *		NULL every function executor's), refills their rate's tokens, and
 *		sets how many more tasks of each may start now, and whether any of
 *		them allows fewer than cap (the limits may hold tasks back: a
 *		worker's claim then tells the launcher).  Returns whether there is
 *		any.
 */
bool
mc_limits_take(const char *agent_type, int cap, McLimits *limits)
{
	static const Oid argtypes[] = {TEXTOID, TIMESTAMPTZOID};
	static const Oid count_argtypes[] = {TEXTARRAYOID, INT4ARRAYOID};
	Datum		values[2];
	char		nulls[2];
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

	memset(limits, 0, sizeof(McLimits));
	limits->at = GetCurrentTimestamp();
	values[0] = agent_type ? CStringGetTextDatum(agent_type) : (Datum) 0;
	nulls[0] = agent_type ? ' ' : 'n';
	values[1] = TimestampTzGetDatum(limits->at);
	nulls[1] = ' ';

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
					   "WHERE (e.max_running IS NOT NULL OR e.rate IS NOT NULL) "
					   "  AND CASE WHEN $1::pg_catalog.text IS NULL THEN e.executor IS NOT NULL "
					   "    ELSE e.agent_type = $1 END "
					   "ORDER BY e.agent_type FOR NO KEY UPDATE",
					   2, argtypes, values, nulls, 0);
	if (n == 0)
		return false;

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
	limits->n = (int) n;
	limits->types = mc_catalog_array(types, limits->n, TEXTOID);

	/*
	 * The running tasks of the types with max_running, counted now that
	 * the rows are locked: this statement's snapshot sees every claim
	 * committed before the lock was had (the locking statement's may not).
	 * The count stops at max_running: no more is needed.
	 */
	if (nbounded > 0 && mc_citus_present())
		citus_count_running(types, max_running, unbounded, allows, limits->n);
	else if (nbounded > 0)
	{
		values[0] = limits->types;
		values[1] = mc_catalog_array(max_running, limits->n, INT4OID);
		n = mc_catalog_run(MC_PLAN_LIMITS_RUNNING,
						   "SELECT (SELECT pg_catalog.count(*)::pg_catalog.int4 FROM "
						   "  (SELECT 1 FROM mycelium.task_states t "
						   "   WHERE t.agent_type = l.agent_type AND t.status = 'running' "
						   "     AND t.task_no >= 0 "
						   "   LIMIT l.max_running) r) "
						   "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), "
						   "  pg_catalog.unnest($2::pg_catalog.int4[])) WITH ORDINALITY "
						   "  AS l(agent_type, max_running, i) "
						   "ORDER BY l.i",
						   2, count_argtypes, values, NULL, 0);
		for (i = 0; i < n; i++)
		{
			bool		isnull;
			int32		running = DatumGetInt32(mc_catalog_value(i, MC_ONLY_COLUMN, &isnull));

			if (!unbounded[i])
				allows[i] = Int32GetDatum(Max(Min(DatumGetInt32(allows[i]),
												  DatumGetInt32(max_running[i]) - running),
											  0));
		}
	}
	for (i = 0; i < (uint64) limits->n; i++)
	{
		limits->any_room |= DatumGetInt32(allows[i]) > 0;
		limits->binding |= DatumGetInt32(allows[i]) < cap;
	}
	if (limits->binding && agent_type == NULL)
		mc_note_limits_held();
	limits->allows = mc_catalog_array(allows, limits->n, INT4OID);
	dims[0] = limits->n;
	limits->tokens = PointerGetDatum(construct_md_array(tokens, tokens_null, 1, dims,
														lbs, FLOAT8OID,
														sizeof(float8),
														FLOAT8PASSBYVAL,
														TYPALIGN_DOUBLE));
	return true;
}
