/*-------------------------------------------------------------------------
 *
 * citus_attempts.c
 *		The statements that start and end many attempts at once, in the
 *		form they take on Citus: one statement per workflow.
 *
 * On plain PostgreSQL a claim, a record of completions, the lock of a
 * batch's tasks and the other statements of attempts.c take the rows of
 * several workflows in one statement, through unnest and lateral joins.
 * Citus cannot push such a statement down to the shards (a LIMIT inside a
 * lateral subquery, FOR UPDATE across shards, an INSERT in a CTE), so
 * where the extension "citus" exists (mc_citus_present) each of them
 * calls its counterpart here once, from one branch point, and the
 * counterpart runs one statement per workflow.  Every such statement
 * names its workflow as a scalar, so Citus routes it to the one shard
 * group that holds the workflow's rows (a router query, one task on one
 * worker).  The history rows a plain statement inserts from a CTE go in a
 * statement of their own, an INSERT ... SELECT from the same shard group,
 * which Citus pushes down to that shard.
 *
 * Each function here returns what its plain counterpart returns: the same
 * columns, in the same order, with the rows of all the workflows' statements
 * gathered into one result (merged_rows_publish), so the callers read them as
 * they read the plain statement's.  Two things are read differently:
 * a role stored in a shard is read as a regrole, never cast to oid on the
 * worker (where the OID would be the worker's; see mc_citus_catalog_open in
 * citus.c), and the executors' function and registrar OIDs are read from
 * the coordinator's own copy of the executors table, since a worker's
 * copy holds that worker's OIDs.
 *
 * The statements keep the plain forms' meaning; doc/internals.md
 * ("Running on Citus") says where the order of a claim differs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "agent.h"
#include "agent_limits.h"
#include "attempts.h"
#include "catalog.h"
#include "citus_attempts.h"
#include "ctx.h"
#include "priority.h"
#include "state.h"

/*
 * The rows of several statements gathered into one result, read as the
 * result of the last statement (SPI_tuptable) is.  The rows stay in the
 * statements' own results, which live until the catalog session closes.
 */
typedef struct MergedRows
{
	TupleDesc	tupdesc;		/* the statements' columns (NULL: none ran) */
	HeapTuple  *vals;
	uint64		n;
	uint64		size;
} MergedRows;

/* the elements of a statement's arrays that belong to one workflow */
typedef struct WorkflowGroup
{
	pg_uuid_t  *id;
	int			first;			/* its elements: order[first .. first + n) */
	int			n;
} WorkflowGroup;

/* the elements of a statement's arrays, grouped by workflow */
typedef struct Groups
{
	int		   *order;			/* element indexes, by workflow id then index */
	WorkflowGroup *groups;		/* in workflow id order */
	int			ngroups;
} Groups;

/* the columns of the executors looked up for a claim */
enum
{
	EXEC_AGENT_TYPE = 1,
	EXEC_EXECUTOR,
	EXEC_OUTPUT_SCHEMA,
	EXEC_REGISTERED_BY
};

/* what the qsort comparators sort indexes by: workflow ids, or priorities */
static Datum *sort_keys;

/*
 * merged_rows_add
 *		Adds the rows of the last statement (rows of them) to m.
 */
static void
merged_rows_add(MergedRows *m, uint64 rows)
{
	uint64		r;

	if (SPI_tuptable == NULL)
		return;
	m->tupdesc = SPI_tuptable->tupdesc;
	if (m->n + rows > m->size)
	{
		m->size = Max(m->size * 2, m->n + rows);
		m->vals = m->vals == NULL ? palloc(sizeof(HeapTuple) * m->size)
			: repalloc(m->vals, sizeof(HeapTuple) * m->size);
	}
	for (r = 0; r < rows; r++)
		m->vals[m->n++] = SPI_tuptable->vals[r];
}

/*
 * merged_rows_publish
 *		Makes the rows gathered in m the result of the last statement, as
 *		mc_catalog_value and mc_catalog_text read it, and returns how many.
 */
static uint64
merged_rows_publish(MergedRows *m)
{
	SPITupleTable *table;

	if (m->tupdesc == NULL)
	{
		SPI_processed = 0;
		return 0;
	}
	table = palloc0(sizeof(SPITupleTable));
	table->tupdesc = m->tupdesc;
	table->vals = m->vals;
	table->numvals = m->n;
	table->alloced = m->n;
	table->tuptabcxt = CurrentMemoryContext;
	SPI_tuptable = table;
	SPI_processed = m->n;
	return m->n;
}

/*
 * element_cmp
 *		qsort comparator of element indexes: by workflow id (sort_keys),
 *		then by index, so that each workflow's elements keep their order.
 */
static int
element_cmp(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;
	int			c = mc_uuid_cmp(DatumGetUUIDP(sort_keys[x]), DatumGetUUIDP(sort_keys[y]));

	return c != 0 ? c : (x > y) - (x < y);
}

/*
 * group_by_workflow
 *		Groups the n elements of a statement's arrays by their workflow
 *		(ids[i], a uuid Datum), the groups in workflow id order.
 */
static Groups
group_by_workflow(Datum *ids, int n)
{
	Groups		g;
	int			i;

	g.order = palloc(sizeof(int) * Max(n, 1));
	g.groups = palloc(sizeof(WorkflowGroup) * Max(n, 1));
	g.ngroups = 0;
	for (i = 0; i < n; i++)
		g.order[i] = i;
	sort_keys = ids;
	qsort(g.order, n, sizeof(int), element_cmp);
	sort_keys = NULL;
	for (i = 0; i < n; i++)
	{
		pg_uuid_t  *id = DatumGetUUIDP(ids[g.order[i]]);

		if (g.ngroups == 0 || mc_uuid_cmp(g.groups[g.ngroups - 1].id, id) != 0)
		{
			g.groups[g.ngroups].id = id;
			g.groups[g.ngroups].first = i;
			g.groups[g.ngroups++].n = 0;
		}
		g.groups[g.ngroups - 1].n++;
	}
	return g;
}

/*
 * group_array
 *		The elements of one workflow's group taken from elems (of a built-in
 *		type), as an array parameter.
 */
static Datum
group_array(Groups *g, WorkflowGroup *group, Datum *elems, Oid elemtype)
{
	Datum	   *part = palloc(sizeof(Datum) * Max(group->n, 1));
	int			i;

	for (i = 0; i < group->n; i++)
		part[i] = elems[g->order[group->first + i]];
	return mc_catalog_array(part, group->n, elemtype);
}

/*
 * group_indexes
 *		The 1-based indexes in the caller's arrays of one workflow's
 *		elements, as an int8[] parameter: the plain statements number
 *		their elements WITH ORDINALITY, which is bigint.
 */
static Datum
group_indexes(Groups *g, WorkflowGroup *group)
{
	Datum	   *part = palloc(sizeof(Datum) * Max(group->n, 1));
	int			i;

	for (i = 0; i < group->n; i++)
		part[i] = Int64GetDatum((int64) g->order[group->first + i] + 1);
	return mc_catalog_array(part, group->n, INT8OID);
}

/*
 * CLAIM_TASKS_OF_WF
 *		What a ready task t of the claimed workflow ($1) must be for the
 *		claim to take it: attempts.c's CLAIM_TASKS_OF_W for one workflow.
 *		$6: the external agent type claimed (NULL: the scheduler's tasks).
 */
#define CLAIM_TASKS_OF_WF(spent) \
	"     WHERE t.workflow_id = $1 AND t.status = 'ready' " \
	"       AND " MC_TASK_DUE("t") \
	spent \
	"       AND CASE WHEN $6::pg_catalog.text IS NULL THEN " \
	"         " MC_FUNCTION_TASK("t") \
	"         ELSE t.agent_type = $6 END "

/*
 * CLAIM_SPENT_WF, CLAIM_LIMITED_WF
 *		attempts.c's CLAIM_SPENT and CLAIM_LIMITED for one workflow: the
 *		agent types with limits ($10) and how many more of each may start
 *		($11).
 */
#define CLAIM_SPENT_WF \
	"       AND NOT EXISTS (SELECT 1 FROM ROWS FROM (pg_catalog.unnest($10::pg_catalog.text[]), " \
	"         pg_catalog.unnest($11::pg_catalog.int4[])) AS k(agent_type, allow) " \
	"         WHERE k.agent_type = t.agent_type COLLATE \"C\" AND k.allow = 0) "
#define CLAIM_LIMITED_WF \
	"), l AS (" \
	"  SELECT c.task_no FROM (" \
	"    SELECT c.task_no, t.agent_type, pg_catalog.row_number() OVER " \
	"      (PARTITION BY t.agent_type ORDER BY c.lvl, c.ready, c.rank, c.task_no) AS rn " \
	"    FROM c JOIN mycelium.task_states t ON t.workflow_id = $1 AND t.task_no = c.task_no) c " \
	"  LEFT JOIN ROWS FROM (pg_catalog.unnest($10::pg_catalog.text[]), " \
	"    pg_catalog.unnest($11::pg_catalog.int4[])) AS k(agent_type, allow) " \
	"    ON k.agent_type = c.agent_type COLLATE \"C\" " \
	"  WHERE k.allow IS NULL OR c.rn <= k.allow"

/*
 * CLAIM_WF_SQL
 *		attempts.c's CLAIM_SQL for one workflow ($1), without the history
 *		rows (an INSERT in a CTE keeps Citus from routing a statement) and
 *		without the executors' columns, which are the coordinator's to
 *		give (fill_executors): up to $2 of the workflow's ready tasks
 *		numbered above $3, after the tasks the step held ($4), in the
 *		order of the plain claim within a workflow (its priority $8 and
 *		mycelium.priority_aging $9).  Its columns are McClaimedColumn's,
 *		those of the executor 0 or NULL, followed by ctx.
 */
#define CLAIM_WF_SQL(returning, ctx, spent, limited, source) \
	"WITH c AS (" \
	"  SELECT y.task_no, y.rank, y.rank IS NOT NULL AS ready, pg_catalog.floor(" \
	"    pg_catalog.date_part('epoch', COALESCE(y.rank, pg_catalog.clock_timestamp() " \
	"      - pg_catalog.make_interval(secs => $8 * $9))) / $9) AS lvl " \
	"  FROM (" \
	"    (SELECT h.task_no, NULL::pg_catalog.timestamptz AS rank " \
	"     FROM pg_catalog.unnest($4::pg_catalog.int4[]) AS h(task_no)) " \
	"    UNION ALL " \
	"    (SELECT t.task_no, t.ready_rank FROM mycelium.task_states t " \
	CLAIM_TASKS_OF_WF(spent) \
	"       AND t.task_no > $3 AND t.own_priority IS NULL " \
	"     ORDER BY t.task_no LIMIT $2) " \
	"    UNION ALL " \
	"    (SELECT t.task_no, t.ready_rank FROM mycelium.task_states t " \
	CLAIM_TASKS_OF_WF(spent) \
	"       AND t.own_priority IS NOT NULL " \
	"     ORDER BY t.ready_rank LIMIT $2)) y " \
	"  ORDER BY 4, 3, 2, 1 LIMIT $2" \
	limited \
	"), u AS (" \
	"  UPDATE mycelium.task_states t SET status = 'running', attempt = t.attempt + 1, " \
	"    started_at = pg_catalog.clock_timestamp(), finished_at = NULL, run_after = NULL, " \
	"    worker_id = $5, lease = $7, " \
	"    lease_until = CASE WHEN $7::pg_catalog.interval IS NOT NULL THEN " \
	"      LEAST(" MC_SQL_PLUS_INTERVAL("pg_catalog.clock_timestamp()", "$7") ", " \
	"        " MC_SQL_PLUS_SECONDS("pg_catalog.clock_timestamp()", "t.timeout") ") END " \
	"  FROM " source " c WHERE t.workflow_id = $1 AND t.task_no = c.task_no " \
	"  RETURNING " returning \
	") " \
	"SELECT u.workflow_id, u.task_no, u.task_id, u.attempt, u.max_attempts, u.initial_delay, " \
	"  u.max_delay, u.exponential_base, COALESCE(u.timeout, 0), u.allow_failure, " \
	"  0::pg_catalog.oid AS executor, u.owner, NULL::pg_catalog.jsonb AS output_schema, " \
	"  u.agent_type, u.lease_until, 0::pg_catalog.oid AS registered_by, " \
	"  u.own_priority IS NOT NULL " ctx \
	"FROM u ORDER BY u.task_no"

/* the scheduler's claims return these columns of the claimed rows (attempts.c) */
#define CLAIM_WF_WORKER_RETURNING \
	"t.workflow_id, t.task_no, t.task_id, t.attempt, " \
	"t.max_attempts, t.initial_delay, t.max_delay, " \
	"t.exponential_base, t.timeout, t.allow_failure, " \
	"t.owner, t.agent_type, t.lease_until, t.own_priority"

/*
 * claim_history
 *		The 'running' history rows of the tasks a claim took from one
 *		workflow (nos[0..n), in task order), one version each from base:
 *		an INSERT ... SELECT from the workflow's own shard group.
 */
static void
claim_history(McCatalogSession *session, pg_uuid_t *id, int64 base, Datum *nos,
			  int n, const char *worker_id, const char *agent_type)
{
	static const Oid argtypes[] = {UUIDOID, INT8OID, INT4ARRAYOID, TEXTOID,
	TEXTOID, REGROLEOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = UUIDPGetDatum(id);
	values[1] = Int64GetDatum(base);
	values[2] = mc_catalog_array(nos, n, INT4OID);
	values[3] = agent_type ? CStringGetTextDatum(agent_type) : (Datum) 0;
	nulls[3] = agent_type ? ' ' : 'n';
	values[4] = CStringGetTextDatum(worker_id);
	values[5] = ObjectIdGetDatum(session->caller);
	(void) mc_catalog_run(MC_PLAN_CITUS_CLAIM_HISTORY,
						  "INSERT INTO mycelium.workflow_state_history "
						  "(workflow_id, version, task_no, owner, status, attempt, event, "
						  " changed_by, changed_at) "
						  "SELECT t.workflow_id, $2 + pg_catalog.row_number() OVER (ORDER BY t.task_no) - 1, "
						  "  t.task_no, t.owner, 'running', t.attempt, "
						  "  CASE WHEN $4::pg_catalog.text IS NULL THEN 'dispatched' "
						  "    ELSE 'claimed by ' || $5 END, $6, pg_catalog.clock_timestamp() "
						  "FROM mycelium.task_states t "
						  "WHERE t.workflow_id = $1 AND t.task_no = ANY ($3::pg_catalog.int4[])",
						  6, argtypes, values, nulls, 0);
}

/*
 * fill_executors
 *		Sets, in the claimed rows m, the executor, its output schema and
 *		who registered it, as the coordinator's copy of the executors table
 *		has them: a worker's copy holds the OIDs of that worker's
 *		functions and roles, which mean nothing here.  The rows are made
 *		anew with those columns.
 */
static void
fill_executors(MergedRows *m)
{
	static const Oid argtypes[] = {TEXTARRAYOID};
	int			natts = m->tupdesc->natts;
	Datum	   *types = palloc(sizeof(Datum) * Max(m->n, 1));
	Datum	   *values = palloc(sizeof(Datum) * natts);
	bool	   *isnull = palloc(sizeof(bool) * natts);
	Datum		args[1];
	uint64		rows;
	uint64		r;
	uint64		e;

	for (r = 0; r < m->n; r++)
	{
		bool		null;

		types[r] = SPI_getbinval(m->vals[r], m->tupdesc, MC_CLAIMED_AGENT_TYPE, &null);
	}
	args[0] = mc_catalog_array(types, (int) m->n, TEXTOID);
	rows = mc_catalog_run(MC_PLAN_CITUS_EXECUTORS,
						  "SELECT e.agent_type, COALESCE(e.executor::pg_catalog.oid, 0), "
						  "  e.output_schema, COALESCE(e.registered_by::pg_catalog.oid, 0) "
						  "FROM mycelium.executors e "
						  "WHERE e.agent_type = ANY ($1::pg_catalog.text[])",
						  1, argtypes, args, NULL, 0);
	for (r = 0; r < m->n; r++)
	{
		char	   *type;

		heap_deform_tuple(m->vals[r], m->tupdesc, values, isnull);
		type = TextDatumGetCString(values[MC_CLAIMED_AGENT_TYPE - 1]);
		for (e = 0; e < rows; e++)
		{
			if (strcmp(mc_catalog_text(e, EXEC_AGENT_TYPE), type) == 0)
				break;
		}
		if (e < rows)
		{
			values[MC_CLAIMED_EXECUTOR - 1] = mc_catalog_value(e, EXEC_EXECUTOR,
															   &isnull[MC_CLAIMED_EXECUTOR - 1]);
			values[MC_CLAIMED_OUTPUT_SCHEMA - 1] = mc_catalog_value(e, EXEC_OUTPUT_SCHEMA,
																	&isnull[MC_CLAIMED_OUTPUT_SCHEMA - 1]);
			values[MC_CLAIMED_REGISTERED_BY - 1] = mc_catalog_value(e, EXEC_REGISTERED_BY,
																	&isnull[MC_CLAIMED_REGISTERED_BY - 1]);
		}
		m->vals[r] = heap_form_tuple(m->tupdesc, values, isnull);
	}
}

/*
 * prio_cmp
 *		qsort comparator of workflow indexes by their priority (sort_keys
 *		holds the priorities), highest first, then in the order given.
 */
static int
prio_cmp(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;
	int32		px = DatumGetInt32(sort_keys[x]);
	int32		py = DatumGetInt32(sort_keys[y]);

	if (px != py)
		return px > py ? -1 : 1;
	return (x > y) - (x < y);
}

/*
 * mc_citus_claim_run
 *		mc_claim_run on Citus, with the same arguments (typelimits: the
 *		locked agent types with limits, or NULL for none) and the same
 *		result: one claim statement per workflow and one for its history,
 *		each routed to the workflow's shard group.  The workflows are taken
 *		in the order given, those of a higher priority first; each takes
 *		what is left of cap.  The limits' allowances go down by what each
 *		workflow took, and the rates' tokens are taken in one statement at
 *		the end.  The claimed rows are returned in workflow and task
 *		order, as the plain claim returns them.
 */
uint64
mc_citus_claim_run(McCatalogSession *session, int n, Datum *ids, Datum *limits,
				   Datum *afters, Datum *bases, Datum *prios, Datum *hfirsts,
				   Datum *hcounts, Datum *held, int cap, const char *worker_id,
				   const char *agent_type, Interval *lease, McLimits *typelimits)
{
	static const Oid argtypes[] = {UUIDOID, INT4OID, INT4OID, INT4ARRAYOID,
		TEXTOID, TEXTOID, INTERVALOID, INT4OID, FLOAT8OID, TEXTARRAYOID,
	INT4ARRAYOID};
	SPITupleTable **results = palloc0(sizeof(SPITupleTable *) * Max(n, 1));
	uint64	   *nresults = palloc0(sizeof(uint64) * Max(n, 1));
	int		   *order = palloc(sizeof(int) * Max(n, 1));
	char	  **types = NULL;
	int32	   *allows = NULL;
	int32	   *taken = NULL;
	Datum		values[11];
	char		nulls[11];
	MergedRows	m = {0};
	int			left = cap;
	int			k;
	int			i;

	memset(nulls, ' ', sizeof(nulls));
	if (typelimits != NULL)
	{
		Datum	   *elems;
		int			ntypes;

		deconstruct_array(DatumGetArrayTypeP(typelimits->types), TEXTOID, -1, false,
						  TYPALIGN_INT, &elems, NULL, &ntypes);
		types = palloc(sizeof(char *) * Max(ntypes, 1));
		for (i = 0; i < ntypes; i++)
			types[i] = TextDatumGetCString(elems[i]);
		deconstruct_array(DatumGetArrayTypeP(typelimits->allows), INT4OID, 4, true,
						  TYPALIGN_INT, &elems, NULL, &ntypes);
		allows = palloc(sizeof(int32) * Max(ntypes, 1));
		taken = palloc0(sizeof(int32) * Max(ntypes, 1));
		for (i = 0; i < ntypes; i++)
			allows[i] = DatumGetInt32(elems[i]);
	}
	else
		nulls[9] = nulls[10] = 'n';

	/* the workflows of a higher priority first, else in the order given */
	for (i = 0; i < n; i++)
		order[i] = i;
	sort_keys = prios;
	qsort(order, n, sizeof(int), prio_cmp);
	sort_keys = NULL;

	values[4] = CStringGetTextDatum(worker_id);
	values[5] = agent_type ? CStringGetTextDatum(agent_type) : (Datum) 0;
	nulls[5] = agent_type ? ' ' : 'n';
	values[6] = lease ? IntervalPGetDatum(lease) : (Datum) 0;
	nulls[6] = lease ? ' ' : 'n';
	values[8] = Float8GetDatum((double) mc_priority_aging_s);
	for (k = 0; k < n && left > 0; k++)
	{
		int			w = order[k];
		int			nheld = hfirsts != NULL ? DatumGetInt32(hcounts[w]) : 0;
		uint64		rows;
		uint64		r;
		Datum	   *nos;

		values[0] = ids[w];
		values[1] = Int32GetDatum(Min(DatumGetInt32(limits[w]), left));
		values[2] = afters[w];
		values[3] = mc_catalog_array(nheld > 0 ? &held[DatumGetInt32(hfirsts[w]) - 1] : NULL,
									 nheld, INT4OID);
		values[7] = prios[w];
		if (typelimits != NULL)
		{
			Datum	   *elems = palloc(sizeof(Datum) * Max(typelimits->n, 1));

			for (i = 0; i < typelimits->n; i++)
				elems[i] = Int32GetDatum(allows[i]);
			values[9] = typelimits->types;
			values[10] = mc_catalog_array(elems, typelimits->n, INT4OID);
		}
		if (agent_type == NULL && typelimits == NULL)
			rows = mc_catalog_run(MC_PLAN_CITUS_CLAIM,
								  CLAIM_WF_SQL(CLAIM_WF_WORKER_RETURNING, "", "", "", "c"),
								  11, argtypes, values, nulls, 0);
		else if (agent_type == NULL)
			rows = mc_catalog_run(MC_PLAN_CITUS_CLAIM_LIMITED,
								  CLAIM_WF_SQL(CLAIM_WF_WORKER_RETURNING, "", CLAIM_SPENT_WF,
											   CLAIM_LIMITED_WF, "l"),
								  11, argtypes, values, nulls, 0);
		else if (typelimits == NULL)
			rows = mc_catalog_run(MC_PLAN_CITUS_CLAIM_AGENT,
								  CLAIM_WF_SQL("t.*", ", " MC_CTX_COLUMNS("u"), "", "", "c"),
								  11, argtypes, values, nulls, 0);
		else
			rows = mc_catalog_run(MC_PLAN_CITUS_CLAIM_AGENT_LIMITED,
								  CLAIM_WF_SQL("t.*", ", " MC_CTX_COLUMNS("u"), CLAIM_SPENT_WF,
											   CLAIM_LIMITED_WF, "l"),
								  11, argtypes, values, nulls, 0);
		if (rows == 0)
			continue;
		results[w] = SPI_tuptable;
		nresults[w] = rows;
		left -= (int) rows;

		/* what the workflow took of the limited types, and its history */
		nos = palloc(sizeof(Datum) * rows);
		for (r = 0; r < rows; r++)
		{
			bool		isnull;

			nos[r] = mc_catalog_value(r, MC_CLAIMED_TASK_NO, &isnull);
			for (i = 0; typelimits != NULL && i < typelimits->n; i++)
			{
				if (strcmp(types[i], mc_catalog_text(r, MC_CLAIMED_AGENT_TYPE)) == 0)
				{
					allows[i]--;
					taken[i]++;
					break;
				}
			}
		}
		claim_history(session, DatumGetUUIDP(ids[w]), DatumGetInt64(bases[w]),
					  nos, (int) rows, worker_id, agent_type);
	}

	/* the claimed tasks come out of the rates' tokens */
	if (typelimits != NULL)
	{
		static const Oid debit_argtypes[] = {TEXTARRAYOID, FLOAT8ARRAYOID,
		INT4ARRAYOID, TIMESTAMPTZOID};
		Datum		debit[4];
		Datum	   *elems = palloc(sizeof(Datum) * Max(typelimits->n, 1));
		bool		any = false;

		for (i = 0; i < typelimits->n; i++)
		{
			elems[i] = Int32GetDatum(taken[i]);
			any |= taken[i] > 0;
		}
		if (any)
		{
			debit[0] = typelimits->types;
			debit[1] = typelimits->tokens;
			debit[2] = mc_catalog_array(elems, typelimits->n, INT4OID);
			debit[3] = TimestampTzGetDatum(typelimits->at);
			(void) mc_catalog_run(MC_PLAN_CITUS_CLAIM_DEBIT,
								  "UPDATE mycelium.executors e SET rate_tokens = k.tokens - k.taken, "
								  "  rate_at = $4 "
								  "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), "
								  "  pg_catalog.unnest($2::pg_catalog.float8[]), "
								  "  pg_catalog.unnest($3::pg_catalog.int4[])) AS k(agent_type, tokens, taken) "
								  "WHERE e.agent_type = k.agent_type COLLATE \"C\" "
								  "  AND k.tokens IS NOT NULL AND k.taken > 0",
								  4, debit_argtypes, debit, NULL, 0);
		}
	}

	/* the claimed rows, in workflow and task order */
	for (i = 0; i < n; i++)
		order[i] = i;
	sort_keys = ids;
	qsort(order, n, sizeof(int), element_cmp);
	sort_keys = NULL;
	for (k = 0; k < n; k++)
	{
		if (results[order[k]] == NULL)
			continue;
		SPI_tuptable = results[order[k]];
		merged_rows_add(&m, nresults[order[k]]);
	}
	if (m.n > 0)
		fill_executors(&m);
	return merged_rows_publish(&m);
}

/*
 * COMPLETE_WF_SQL
 *		attempts.c's COMPLETE_ROWS for one workflow ($1): sets the task rows
 *		of completed attempts completed, with their results; $2 their task
 *		numbers, $3 results, $4 how long they ran in ms (NULL: from their
 *		claim until now), $5 their places in the caller's arrays.
 */
#define COMPLETE_WF_SQL \
	"UPDATE mycelium.task_states t SET status = 'completed', result = f.result, " \
	"  error = NULL, error_detail = NULL, finished_at = pg_catalog.clock_timestamp(), " \
	"  worker_id = NULL, lease_until = NULL, execution_time = COALESCE(f.ms, " \
	"    pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - t.started_at) * 1000) " \
	"FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.int4[]), " \
	"  pg_catalog.unnest($3::pg_catalog.jsonb[]), pg_catalog.unnest($4::pg_catalog.float8[]), " \
	"  pg_catalog.unnest($5::pg_catalog.int8[])) AS f(task_no, result, ms, n) " \
	"WHERE t.workflow_id = $1 AND t.task_no = f.task_no " \
	"RETURNING f.n, t.dependents"

/*
 * complete_groups
 *		Sets the task rows of completed attempts completed, one statement
 *		per workflow group of g: for the ith element, task nos[i] with
 *		results[i] and, with ms, how long it ran.  Returns rows (n,
 *		dependents), n the attempt's place in the arrays from 1, as
 *		COMPLETE_ROWS does.
 */
static uint64
complete_groups(Groups *g, Datum *nos, Datum *results, Datum *ms)
{
	static const Oid argtypes[] = {UUIDOID, INT4ARRAYOID, JSONBARRAYOID,
	FLOAT8ARRAYOID, INT8ARRAYOID};
	MergedRows	m = {0};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int			i;

	nulls[3] = ms != NULL ? ' ' : 'n';
	for (i = 0; i < g->ngroups; i++)
	{
		WorkflowGroup *group = &g->groups[i];

		values[0] = UUIDPGetDatum(group->id);
		values[1] = group_array(g, group, nos, INT4OID);
		values[2] = group_array(g, group, results, JSONBOID);
		values[3] = ms != NULL ? group_array(g, group, ms, FLOAT8OID) : (Datum) 0;
		values[4] = group_indexes(g, group);
		merged_rows_add(&m, mc_catalog_run(MC_PLAN_CITUS_COMPLETE_ROWS, COMPLETE_WF_SQL,
										   5, argtypes, values, nulls, 0));
	}
	return merged_rows_publish(&m);
}

/*
 * mc_citus_complete_rows
 *		The statement of mc_complete_rows_early on Citus: sets the task rows
 *		of n completed attempts completed (workflow ids[i], task nos[i],
 *		results[i], how long it ran ms[i]), one statement per workflow.
 *		Returns rows (n, dependents), as the plain statement does.
 */
uint64
mc_citus_complete_rows(int n, Datum *ids, Datum *nos, Datum *results, Datum *ms)
{
	Groups		g = group_by_workflow(ids, n);

	return complete_groups(&g, nos, results, ms);
}

/*
 * record_workflow
 *		Records a workflow's completed attempts whose task rows are set
 *		completed (nos[0..n), in task order, with their versions): their
 *		history (event, changed by the session's caller) and the release
 *		of their dependents, RECORD_SQL in two statements routed to the
 *		workflow's shard group.  With hold, released tasks a function
 *		executor runs are held (mc_record_completed_batch).  Adds the
 *		released dependents to m, in task order, as RECORD_SQL returns them.
 */
static void
record_workflow(McCatalogSession *session, MergedRows *m, pg_uuid_t *id,
				Datum nos, Datum versions, const char *event, bool hold)
{
	static const Oid hargtypes[] = {UUIDOID, INT4ARRAYOID, INT8ARRAYOID,
	TEXTOID, REGROLEOID};
	static const Oid rargtypes[] = {UUIDOID, INT4ARRAYOID, BOOLOID};
	Datum		values[5];

	values[0] = UUIDPGetDatum(id);
	values[1] = nos;
	values[2] = versions;
	values[3] = CStringGetTextDatum(event);
	values[4] = ObjectIdGetDatum(session->caller);
	(void) mc_catalog_run(MC_PLAN_CITUS_COMPLETED_HISTORY,
						  "INSERT INTO mycelium.workflow_state_history "
						  "(workflow_id, version, task_no, owner, status, attempt, result, event, "
						  " changed_by, execution_time, changed_at) "
						  "SELECT t.workflow_id, f.version, t.task_no, t.owner, 'completed', "
						  "  t.attempt, t.result, $4, $5, t.execution_time, pg_catalog.clock_timestamp() "
						  "FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.int4[]), "
						  "  pg_catalog.unnest($3::pg_catalog.int8[])) AS f(task_no, version) "
						  "JOIN mycelium.task_states t ON t.workflow_id = $1 AND t.task_no = f.task_no",
						  5, hargtypes, values, NULL, 0);

	values[2] = BoolGetDatum(hold);
	merged_rows_add(m, mc_catalog_run(MC_PLAN_CITUS_RELEASE_DEPENDENTS,
									  "WITH released AS ("
									  "  UPDATE mycelium.task_states t SET deps_pending = t.deps_pending - r.k, "
									  "    status = CASE WHEN t.deps_pending = r.k AND t.status = 'pending' "
									  "      AND NOT ($3 AND t.run_after IS NULL AND " MC_FUNCTION_TASK("t") ") "
									  "      THEN 'ready'::mycelium.task_status ELSE t.status END, "
									  "    ready_rank = CASE WHEN t.deps_pending = r.k AND t.status = 'pending' "
									  "      THEN " MC_READY_RANK("t") " ELSE t.ready_rank END, "
									  "    ready_at = CASE WHEN t.deps_pending = r.k AND t.status = 'pending' "
									  "      AND NOT ($3 AND t.run_after IS NULL AND " MC_FUNCTION_TASK("t") ") "
									  "      THEN pg_catalog.clock_timestamp() ELSE t.ready_at END "
									  "  FROM (SELECT d.task_no, pg_catalog.count(*)::pg_catalog.int4 AS k "
									  "    FROM mycelium.task_states s "
									  "    CROSS JOIN LATERAL pg_catalog.unnest(s.dependents) AS d(task_no) "
									  "    WHERE s.workflow_id = $1 AND s.task_no = ANY ($2::pg_catalog.int4[]) "
									  "    GROUP BY d.task_no) r "
									  "  WHERE t.workflow_id = $1 AND t.task_no = r.task_no "
									  "  RETURNING t.workflow_id, t.task_no, t.status = 'ready' AS ready, "
									  "    " MC_EXTERNAL_READY_TYPE("t") " AS external_type, "
									  "    t.status = 'pending' AND t.deps_pending = 0 AS held"
									  ") "
									  "SELECT * FROM released ORDER BY released.task_no",
									  3, rargtypes, values, NULL, 0));
}

/*
 * record_groups
 *		Records the completed attempts of each workflow group of g
 *		(record_workflow), the groups in workflow id order, and returns the
 *		released dependents as the result, in workflow and task order.
 */
static uint64
record_groups(McCatalogSession *session, Groups *g, Datum *nos, Datum *versions,
			  const char *event, bool hold)
{
	MergedRows	m = {0};
	int			i;

	for (i = 0; i < g->ngroups; i++)
	{
		WorkflowGroup *group = &g->groups[i];

		record_workflow(session, &m, group->id,
						group_array(g, group, nos, INT4OID),
						group_array(g, group, versions, INT8OID), event, hold);
	}
	return merged_rows_publish(&m);
}

/*
 * mc_citus_record_completions
 *		mc_record_completions on Citus, with the same arguments and result:
 *		per workflow, the task rows set completed, their history, and the
 *		release of their dependents.
 */
uint64
mc_citus_record_completions(McCatalogSession *session, int n, Datum *ids,
							Datum *nos, Datum *results, Datum *versions,
							const char *event)
{
	Groups		g = group_by_workflow(ids, n);

	(void) complete_groups(&g, nos, results, NULL);
	return record_groups(session, &g, nos, versions, event, false);
}

/*
 * mc_citus_record_completed_batch
 *		mc_record_completed_batch on Citus: the history of n completed
 *		attempts whose rows are set completed (workflow ids[i], task
 *		nos[i], versions[i]) and the release of their dependents, held
 *		when a function executor runs them, per workflow.  Returns the
 *		released dependents, as the plain statement does.  The attempts'
 *		results, attempt numbers, owners and times are read from their
 *		rows, where mc_complete_rows_early wrote them.
 */
uint64
mc_citus_record_completed_batch(McCatalogSession *session, int n, Datum *ids,
								Datum *nos, Datum *versions)
{
	Groups		g = group_by_workflow(ids, n);

	return record_groups(session, &g, nos, versions, "completed", true);
}

/*
 * mc_citus_release_held_tasks
 *		mc_release_held_tasks on Citus: makes ready the n tasks a step held
 *		and did not claim, one statement per workflow.
 */
void
mc_citus_release_held_tasks(int n, Datum *ids, Datum *nos)
{
	static const Oid argtypes[] = {UUIDOID, INT4ARRAYOID};
	Groups		g = group_by_workflow(ids, n);
	Datum		values[2];
	int			i;

	for (i = 0; i < g.ngroups; i++)
	{
		values[0] = UUIDPGetDatum(g.groups[i].id);
		values[1] = group_array(&g, &g.groups[i], nos, INT4OID);
		(void) mc_catalog_run(MC_PLAN_CITUS_RELEASE_HELD,
							  "UPDATE mycelium.task_states t SET status = 'ready', "
							  "  ready_at = pg_catalog.clock_timestamp() "
							  "WHERE t.workflow_id = $1 AND t.task_no = ANY ($2::pg_catalog.int4[]) "
							  "  AND t.status = 'pending' AND t.deps_pending = 0",
							  2, argtypes, values, NULL, 0);
	}
}

/*
 * mc_citus_lock_tasks
 *		The statement of mc_dispatch_lock_batch on Citus: locks the rows of
 *		the n claimed tasks (workflow ids[i], task nos[i], attempts[i])
 *		still running under worker_id, one statement per workflow, and
 *		returns for each its place in the arrays (from 1) and its ctx
 *		columns (MC_CTX_COLUMNS), in workflow and task order.
 */
uint64
mc_citus_lock_tasks(int n, Datum *ids, Datum *nos, Datum *attempts,
					const char *worker_id)
{
	static const Oid argtypes[] = {UUIDOID, INT4ARRAYOID, INT4ARRAYOID,
	INT8ARRAYOID, TEXTOID};
	Groups		g = group_by_workflow(ids, n);
	MergedRows	m = {0};
	Datum		values[5];
	int			i;

	values[4] = CStringGetTextDatum(worker_id);
	for (i = 0; i < g.ngroups; i++)
	{
		WorkflowGroup *group = &g.groups[i];

		values[0] = UUIDPGetDatum(group->id);
		values[1] = group_array(&g, group, nos, INT4OID);
		values[2] = group_array(&g, group, attempts, INT4OID);
		values[3] = group_indexes(&g, group);
		merged_rows_add(&m, mc_catalog_run(MC_PLAN_CITUS_LOCK_TASKS,
										   "SELECT c.n, " MC_CTX_COLUMNS("t")
										   "FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.int4[]), "
										   "  pg_catalog.unnest($3::pg_catalog.int4[]), "
										   "  pg_catalog.unnest($4::pg_catalog.int8[])) AS c(task_no, attempt, n) "
										   "JOIN mycelium.task_states t ON t.workflow_id = $1 "
										   "  AND t.task_no = c.task_no "
										   "WHERE t.status = 'running' AND t.attempt = c.attempt "
										   "  AND t.worker_id = $5 "
										   "ORDER BY t.task_no "
										   "FOR UPDATE OF t",
										   5, argtypes, values, NULL, 0));
	}
	return merged_rows_publish(&m);
}

/*
 * mc_citus_hold_tasks
 *		The statement of mc_hold_agent_tasks on Citus: locks, passing over
 *		those another transaction holds, the rows of the n tasks an agent's
 *		call names (task ids tids[i] of workflow wids[i]), one statement per
 *		workflow.  Its columns are the plain statement's: the task's place
 *		in the arrays (from 1), MC_TASK_COLUMNS, who holds it, whether under
 *		a lease, when a lapsed lease lapsed (a timestamp here, text there:
 *		both read as text), the output schema and the agent type.
 */
uint64
mc_citus_hold_tasks(int n, Datum *wids, Datum *tids)
{
	static const Oid argtypes[] = {UUIDOID, TEXTARRAYOID, INT8ARRAYOID};
	Groups		g = group_by_workflow(wids, n);
	MergedRows	m = {0};
	Datum		values[3];
	int			i;

	for (i = 0; i < g.ngroups; i++)
	{
		WorkflowGroup *group = &g.groups[i];

		values[0] = UUIDPGetDatum(group->id);
		values[1] = group_array(&g, group, tids, TEXTOID);
		values[2] = group_indexes(&g, group);
		merged_rows_add(&m, mc_catalog_run(MC_PLAN_CITUS_HOLD_TASKS,
										   "SELECT f.i, " MC_TASK_COLUMNS("t") ", "
										   "  t.worker_id, t.lease_until IS NOT NULL, "
										   "  CASE WHEN t.lease_until < pg_catalog.clock_timestamp() "
										   "    THEN t.lease_until END, "
										   "  e.output_schema, t.agent_type "
										   "FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]), "
										   "  pg_catalog.unnest($3::pg_catalog.int8[])) AS f(task_id, i) "
										   "JOIN mycelium.task_ids n "
										   "  ON n.workflow_id = $1 AND n.task_id = f.task_id COLLATE \"C\" "
										   "JOIN mycelium.task_states t "
										   "  ON t.workflow_id = $1 AND t.task_no = n.task_no "
										   "LEFT JOIN mycelium.executors e ON e.agent_type = t.agent_type "
										   "FOR UPDATE OF t SKIP LOCKED",
										   3, argtypes, values, NULL, 0));
	}
	return merged_rows_publish(&m);
}
