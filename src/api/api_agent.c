/*-------------------------------------------------------------------------
 *
 * api_agent.c
 *		SQL-callable functions of external agents: claim_tasks, heartbeat,
 *		complete_task, complete_tasks and fail_task.
 *
 * A program outside the database claims ready tasks of an agent type
 * registered with a NULL executor.  Each claim is an attempt, counted when
 * it is claimed and held by the claiming worker_id under a lease.  The
 * agent renews the lease with heartbeats and ends the attempt with
 * complete_task (complete_tasks for several at once) or fail_task.  A
 * lease that lapses fails the attempt (the launcher notices, see
 * mc_expire_leases), as a crash of a scheduler worker does; from then on
 * the agent's calls for that attempt are refused and change nothing.  The
 * task's timeout bounds the lease.  The task states are those of
 * doc/state-machines.md.
 *
 * Locking is that of every other change: the workflows' rows, in id
 * order, then the tasks'.  A claim passes over workflows another
 * transaction holds, and looks past them.  A claim takes the agent type's
 * ready tasks in ready_rank order (priorities, priority.c), so the task of
 * the highest priority, and of those the one ready longest, goes first.
 * A completion is recorded by
 * mc_record_completions, whose statement the scheduler's workers share
 * (dispatch.c, RECORD_SQL).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
#include "utils/wait_event.h"

#include "agent.h"
#include "agent_limits.h"
#include "api_agent.h"
#include "api_json_schema.h"
#include "catalog.h"
#include "citus.h"
#include "citus_attempts.h"
#include "attempts.h"
#include "ctx.h"
#include "limit_slots.h"
#include "mycelium.h"
#include "mycelium_errcodes.h"
#include "shmem.h"
#include "state.h"
#include "taskdef.h"

PG_FUNCTION_INFO_V1(mc_claim_tasks);
PG_FUNCTION_INFO_V1(mc_heartbeat);
PG_FUNCTION_INFO_V1(mc_complete_task);
PG_FUNCTION_INFO_V1(mc_complete_tasks);
PG_FUNCTION_INFO_V1(mc_fail_task);

/*
 * mycelium.synchronous_claims: claims outside a transaction block wait for
 * their WAL flush (claim_commits_async)
 */
bool		mc_synchronous_claims = false;

/* most tasks one claim_tasks or complete_tasks call may name */
#define MC_MAX_CLAIM 10000

/* most rounds of one claim (see mc_claim_tasks) */
#define MC_CLAIM_ROUNDS 5

/* most looks again, a millisecond apart, at work others hold (ditto) */
#define MC_CLAIM_POLLS 100

/* most workflows held by others that one claim remembers to look past */
#define MC_CLAIM_SKIP 256

/*
 * how many of an agent type's first ready tasks a claim of one task looks
 * through for a workflow no other transaction holds (claim_one)
 */
#define MC_CLAIM_LOOK 256

/* the columns of require_external's statement */
enum
{
	KIND_EXTERNAL = 1			/* the agent type's executor is NULL */
};

/* the columns of claim_round's search for candidates */
enum
{
	CANDIDATE_WORKFLOW_ID = 1,
	CANDIDATE_LIMITED			/* the agent type has limits (NULL: no
								 * external agent type of that name) */
};

/* the columns of claim_one's statement */
enum
{
	FIRST_FREE_WORKFLOW = 1,	/* MC_WORKFLOW_COLUMNS from here */
	FIRST_FREE_LIMITED = FIRST_FREE_WORKFLOW + MC_WORKFLOW_NCOLUMNS
};

/*
 * The columns of a task that mc_hold_agent_tasks holds (HELD_COLUMNS),
 * counted from the first: MC_TASK_COLUMNS, then what says whether the
 * worker holds it.  e is the agent type's executors row.
 */
enum
{
	HELD_TASK = 0,				/* MC_TASK_COLUMNS from here */
	HELD_WORKER_ID = HELD_TASK + MC_TASK_NCOLUMNS,
	HELD_CLAIMED,				/* an external agent claimed it */
	HELD_LAPSED,				/* when its lease lapsed, if it did */
	HELD_OUTPUT_SCHEMA,
	HELD_AGENT_TYPE
};

#define HELD_COLUMNS(t) \
	MC_TASK_COLUMNS(t) ", " t ".worker_id, " t ".lease_until IS NOT NULL, " \
	"CASE WHEN " t ".lease_until < pg_catalog.clock_timestamp() " \
	"  THEN " t ".lease_until::pg_catalog.text END, e.output_schema, " t ".agent_type "

/* the columns of mc_hold_agent_tasks's statement for several tasks */
enum
{
	HOLD_N = 1,					/* the task's place in the call, from 1 */
	HOLD_HELD					/* HELD_COLUMNS from here */
};

/* the columns of hold_one's statement */
enum
{
	HOLD_ONE_WORKFLOW = 1,		/* MC_WORKFLOW_COLUMNS from here */
	HOLD_ONE_HELD = HOLD_ONE_WORKFLOW + MC_WORKFLOW_NCOLUMNS	/* HELD_COLUMNS */
};

/* the columns of mc_heartbeat's statement */
enum
{
	HEARTBEAT_LEASE_UNTIL = 1
};

/*
 * text_arg
 *		Argument argno as a C string; NULL is refused.
 */
static char *
text_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	mc_require_arg(fcinfo, argno, name);
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * mc_worker_id_arg
 *		The worker_id argument: who claims, from 1 to 255 bytes.
 */
char *
mc_worker_id_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *worker_id = text_arg(fcinfo, argno, "worker_id");

	if (worker_id[0] == '\0' || strlen(worker_id) > 255)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("worker_id must be 1 to 255 bytes long")));
	return worker_id;
}

/*
 * lease_arg
 *		A lease length argument, which must be positive and at most
 *		MC_MAX_SECONDS (what a millisecond timer holds, like a task's
 *		timeout); NULL if it is NULL.  Checked on the interval itself, so a
 *		lease of a million years is refused as too long rather than
 *		overflowing a timestamp.
 */
static Interval *
lease_arg(FunctionCallInfo fcinfo, int argno)
{
	Interval   *lease;
	double		seconds;

	if (PG_ARGISNULL(argno))
		return NULL;
	lease = PG_GETARG_INTERVAL_P(argno);
	seconds = lease->time / (double) USECS_PER_SEC +
		(lease->day + lease->month * (double) DAYS_PER_MONTH) * SECS_PER_DAY;
	if (seconds <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lease must be positive")));
	if (seconds > MC_MAX_SECONDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lease must be at most %.0f seconds", MC_MAX_SECONDS)));
	return lease;
}

/*
 * mc_uuid_string
 *		A workflow id as text, for messages.
 */
char *
mc_uuid_string(pg_uuid_t *id)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
}

/*
 * require_external
 *		Only the tasks of agent types registered with a NULL executor are
 *		claimed by external agents.
 */
static void
require_external(const char *agent_type)
{
	static const Oid argtypes[] = {TEXTOID};
	Datum		values[1];
	bool		isnull;

	mc_signal_refuse_agent_type(agent_type);
	values[0] = CStringGetTextDatum(agent_type);
	if (mc_catalog_run(MC_PLAN_EXECUTOR_KIND,
					   "SELECT executor IS NULL FROM mycelium.executors WHERE agent_type = $1",
					   1, argtypes, values, NULL, 1) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("agent type \"%s\" is not registered",
						mc_name_for_message(agent_type)),
				 errhint("Register it for external agents with mycelium.register_executor('%s', NULL).",
						 mc_name_for_message(agent_type))));
	if (!DatumGetBool(mc_catalog_value(0, KIND_EXTERNAL, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("agent type \"%s\" is run by a function executor", agent_type),
				 errdetail("The scheduler's workers run its tasks; external agents claim only the tasks of agent types registered with a NULL executor.")));
}

/*
 * put_claimed
 *		Adds the claimed task in row r of the claim statement's result to
 *		claim_tasks' result set, with its ctx (from sources).
 */
static void
put_claimed(ReturnSetInfo *rsinfo, uint64 r, McCtxSources *sources)
{
	bool		isnull;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	values[0] = mc_catalog_value(r, MC_CLAIMED_WORKFLOW_ID, &isnull);
	values[1] = mc_catalog_value(r, MC_CLAIMED_TASK_ID, &isnull);
	values[2] = mc_catalog_value(r, MC_CLAIMED_ATTEMPT, &isnull);
	values[3] = mc_catalog_value(r, MC_CLAIMED_LEASE_UNTIL, &isnull);
	values[4] = JsonbPGetDatum(mc_ctx_from_row(r, MC_CLAIMED_CTX, sources, NULL));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * claim_from
 *		Claims up to max_tasks ready tasks of the agent type from the
 *		workflows wfs[0..nids) (in id order) that were locked (locked[i])
 *		and are running with room, within their max_parallel_tasks, into
 *		the result set, and saves the workflows claimed from.  limited
 *		false says the type was just seen to have no limits.  Returns how
 *		many tasks it claimed.
 */
static int
claim_from(McCatalogSession *session, ReturnSetInfo *rsinfo,
		   const char *agent_type, const char *worker_id, McWorkflow *wfs,
		   bool *locked, int nids, int max_tasks, Interval *lease,
		   bool limited)
{
	Datum	   *dids;
	Datum	   *limits;
	Datum	   *afters;
	Datum	   *bases;
	Datum	   *prios;
	McWorkflow **wfps = palloc(sizeof(McWorkflow *) * Max(nids, 1));
	McCtxSources *sources;
	uint64		rows;
	uint64		r;
	int			n = 0;
	int			i;
	int			k;

	dids = palloc(sizeof(Datum) * Max(nids, 1));
	limits = palloc(sizeof(Datum) * Max(nids, 1));
	afters = palloc(sizeof(Datum) * Max(nids, 1));
	bases = palloc(sizeof(Datum) * Max(nids, 1));
	prios = palloc(sizeof(Datum) * Max(nids, 1));
	for (i = 0; i < nids; i++)
	{
		int			room = wfs[i].max_parallel_tasks - wfs[i].tasks_running;

		if (!locked[i] || wfs[i].status != MC_WF_RUNNING || room <= 0)
			continue;
		dids[n] = UUIDPGetDatum(&wfs[i].id);
		limits[n] = Int32GetDatum(Min(room, max_tasks));
		afters[n] = Int32GetDatum(0);
		bases[n] = Int64GetDatum(wfs[i].version);
		prios[n] = Int32GetDatum(wfs[i].priority);
		n++;
	}
	rows = n > 0 ? mc_claim_run(session, n, dids, limits, afters, bases,
								prios, NULL, NULL, NULL, 0, max_tasks,
								worker_id, agent_type, lease, limited) : 0;

	/* return the claims, counting each into its workflow */
	sources = mc_ctx_sources(rows, MC_CLAIMED_CTX);
	k = 0;
	for (r = 0; r < rows; r++)
	{
		bool		isnull;
		pg_uuid_t  *id = DatumGetUUIDP(mc_catalog_value(r, MC_CLAIMED_WORKFLOW_ID, &isnull));

		while (memcmp(&wfs[k].id, id, sizeof(pg_uuid_t)) != 0)
			k++;
		mc_workflow_count_started(&wfs[k], 1);
		put_claimed(rsinfo, r, sources);
	}

	/* save the workflows claimed from, at the last version used */
	n = 0;
	for (i = 0; i < nids; i++)
	{
		if (!wfs[i].changed)
			continue;
		mc_workflow_count_done(&wfs[i]);
		wfps[n++] = &wfs[i];
	}
	mc_workflows_save(session, wfps, n);
	return (int) rows;
}

/*
 * CLAIM_CANDIDATES_SQL
 *		claim_round's search for workflows with claimable tasks of the agent
 *		type $1 (past those in $2), of the caller's where mine, or any when
 *		$4 (an administrator), at most $5, those of the lowest ready_rank
 *		first.
 */
#define CLAIM_CANDIDATES_SQL(mine) \
	"SELECT t.workflow_id, " \
	"  (SELECT e.max_running IS NOT NULL OR e.rate IS NOT NULL " \
	"   FROM mycelium.executors e WHERE e.agent_type = $1) " \
	"FROM mycelium.task_states t " \
	"WHERE t.agent_type = $1 AND t.status = 'ready' AND t.task_no >= 0 " \
	"  AND " MC_TASK_DUE("t") \
	"  AND (" mine " OR $4) " \
	"  AND t.workflow_id <> ALL ($2) " \
	"  AND (SELECT w.status = 'running' AND w.tasks_running < w.max_parallel_tasks " \
	"       FROM mycelium.workflow_states w WHERE w.workflow_id = t.workflow_id) " \
	"  AND EXISTS (SELECT 1 FROM mycelium.executors e " \
	"    WHERE e.agent_type = $1 AND e.executor IS NULL) " \
	"ORDER BY t.ready_rank LIMIT $5"

/*
 * claim_round
 *		One round of a claim: finds workflows with claimable tasks of the
 *		agent type, those of the lowest ready_rank first, locks them, claims
 *		up to max_tasks from them into the result set, and saves them.
 *		Returns how many tasks it claimed; *found says whether it found any
 *		candidate (another agent may have taken them meanwhile).  Workflows
 *		in skip (nskip of them) are passed over.  Unless told to wait, it
 *		passes over workflows another transaction has locked (an agent
 *		completing tasks holds its workflow until it commits), says so in
 *		*held, and adds them to skip, for the next round to look past them.
 */
static int
claim_round(McCatalogSession *session, ReturnSetInfo *rsinfo,
			const char *agent_type, const char *worker_id, pg_uuid_t *skip,
			int *nskip, int max_tasks, Interval *lease, bool wait, bool *found,
			bool *held)
{
	static const Oid cargtypes[] = {TEXTOID, UUIDARRAYOID, REGROLEOID, BOOLOID,
	INT4OID, TEXTOID};
	Datum		cvalues[6];
	Datum	   *skipped;
	uint64		ncand;
	uint64		r;
	pg_uuid_t  *ids;
	McWorkflow *wfs;
	McWorkflow **wfps;
	bool	   *locked;
	bool		limited = true;
	int			nids = 0;
	int			i;
	int			k;

	/*
	 * Workflows with ready tasks of this type, in ready_rank order
	 * (task_states_rank_idx).  The test of the workflow is a subquery, not
	 * a join, so the plan walks the index and stops at the first
	 * claimable rows.  None unless external agents run the type (tested
	 * once; the caller says what is wrong when nothing was found).
	 */
	skipped = palloc(sizeof(Datum) * Max(*nskip, 1));
	for (i = 0; i < *nskip; i++)
		skipped[i] = UUIDPGetDatum(&skip[i]);
	cvalues[0] = CStringGetTextDatum(agent_type);
	cvalues[1] = mc_catalog_array(skipped, *nskip, UUIDOID);
	cvalues[2] = ObjectIdGetDatum(session->caller);
	cvalues[3] = BoolGetDatum(session->caller_is_admin);
	cvalues[4] = Int32GetDatum(max_tasks);
	/*
	 * "task_no >= 0" lets it use task_states_rank_idx (10_catalog.sql);
	 * the second column says whether the type has limits.  On Citus, the
	 * statement reads every shard, and there the caller is compared by
	 * name ($6), resolved on each worker (mc_citus_role_name).
	 */
	if (mc_citus_present())
	{
		cvalues[5] = mc_citus_role_name(session->caller);
		ncand = mc_catalog_run(MC_PLAN_CITUS_CLAIM_CANDIDATES,
							   CLAIM_CANDIDATES_SQL("t.owner = pg_catalog.to_regrole($6)"),
							   6, cargtypes, cvalues, NULL, 0);
	}
	else
		ncand = mc_catalog_run(MC_PLAN_CLAIM_CANDIDATES,
							   CLAIM_CANDIDATES_SQL("t.owner = $3"),
							   5, cargtypes, cvalues, NULL, 0);
	*found = ncand > 0;

	/*
	 * Whether the type has limits, read in the same statement: without
	 * any, mc_claim_run need not look them up (a statement less for every
	 * claim).  Limits set after this statement's snapshot and before the
	 * claim commits do not hold for it, as they do not for a claim whose
	 * lookup came just before they were set.
	 */
	if (ncand > 0)
	{
		bool		isnull;
		Datum		d = mc_catalog_value(0, CANDIDATE_LIMITED, &isnull);

		limited = isnull || DatumGetBool(d);
	}
	ids = palloc(sizeof(pg_uuid_t) * Max(ncand, 1));
	for (r = 0; r < ncand; r++)
	{
		bool		isnull;

		memcpy(&ids[nids++], DatumGetUUIDP(mc_catalog_value(r, CANDIDATE_WORKFLOW_ID, &isnull)),
			   sizeof(pg_uuid_t));
	}
	/* in id order, each once: the lock order */
	qsort(ids, nids, sizeof(pg_uuid_t), mc_uuid_cmp);
	for (i = 0, k = 0; i < nids; i++)
	{
		if (k == 0 || memcmp(&ids[k - 1], &ids[i], sizeof(pg_uuid_t)) != 0)
			ids[k++] = ids[i];
	}
	nids = k;

	/* lock them in id order, then claim what their limits allow */
	wfs = palloc0(sizeof(McWorkflow) * Max(nids, 1));
	wfps = palloc(sizeof(McWorkflow *) * Max(nids, 1));
	locked = palloc(sizeof(bool) * Max(nids, 1));
	for (i = 0; i < nids; i++)
		wfps[i] = &wfs[i];
	mc_workflows_lock(session, ids, nids, !wait, wfps, locked);

	/* another transaction holds some: the next round looks past them */
	*held = false;
	for (i = 0; i < nids; i++)
	{
		if (!locked[i])
		{
			if (*nskip < MC_CLAIM_SKIP)
				skip[(*nskip)++] = ids[i];
			*held = true;
		}
	}
	return claim_from(session, rsinfo, agent_type, worker_id, wfs, locked,
					  nids, max_tasks, lease, limited);
}

/*
 * claim_one
 *		claim_tasks' first try at a single task: one statement locks the
 *		workflow of the first of the agent type's ready tasks, in
 *		ready_rank order, whose workflow is running with room and held by
 *		no other transaction (looking through the first MC_CLAIM_LOOK
 *		ready tasks, so that agents claiming at once pass over the held
 *		workflows at the head of the order, as the rounds do, instead of
 *		queueing for the first one), and tells whether the type has
 *		limits; one more claims the task, records it and saves the
 *		workflow (mc_claim_one).  What a round (claim_round) does in five
 *		statements or more, for the calls an agent serving one task at a
 *		time makes most.  Returns whether it claimed a task; when it did
 *		not, claim_tasks goes on with its rounds, which find out why.
 */
static bool
claim_one(McCatalogSession *session, ReturnSetInfo *rsinfo,
		  const char *agent_type, const char *worker_id, Interval *lease)
{
	static const Oid argtypes[] = {TEXTOID, REGROLEOID, BOOLOID, INT4OID};
	Datum		values[4];
	McWorkflow	wf;
	McLimits	typelimits;
	bool		locked = true;
	bool		isnull;
	bool		limited;
	uint64		rows;

	values[0] = CStringGetTextDatum(agent_type);
	values[1] = ObjectIdGetDatum(session->caller);
	values[2] = BoolGetDatum(session->caller_is_admin);
	values[3] = Int32GetDatum(MC_CLAIM_LOOK);
	/*
	 * The ready tasks in ready_rank order (task_states_rank_idx: "task_no
	 * >= 0" lets the statement use it), each workflow once for each run of
	 * its tasks in that order (lag: a walk past the many tasks of a held
	 * workflow tries its lock once), each tried in turn (LATERAL, a nested
	 * loop in that order) until one is locked.  No ORDER BY: a sort would
	 * lock every workflow tried before choosing.
	 */
	if (mc_catalog_run(MC_PLAN_CLAIM_FIRST_FREE,
					   "SELECT " MC_WORKFLOW_COLUMNS("w") ", "
					   "  (SELECT e.max_running IS NOT NULL OR e.rate IS NOT NULL "
					   "   FROM mycelium.executors e WHERE e.agent_type = $1) "
					   "FROM (SELECT c.workflow_id FROM ("
					   "    SELECT t.workflow_id, pg_catalog.lag(t.workflow_id) OVER "
					   "      (ORDER BY t.ready_rank ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS previous "
					   "    FROM (SELECT t.workflow_id, t.ready_rank FROM mycelium.task_states t "
					   "      WHERE t.agent_type = $1 AND t.status = 'ready' AND t.task_no >= 0 "
					   "        AND " MC_TASK_DUE("t")
					   "        AND (t.owner = $2 OR $3) "
					   "      ORDER BY t.ready_rank LIMIT $4) t) c "
					   "  WHERE c.previous IS DISTINCT FROM c.workflow_id) c "
					   "CROSS JOIN LATERAL (SELECT * FROM mycelium.workflow_states w "
					   "  WHERE w.workflow_id = c.workflow_id AND w.status = 'running' "
					   "    AND w.tasks_running < w.max_parallel_tasks "
					   "  FOR UPDATE SKIP LOCKED) w "
					   "WHERE EXISTS (SELECT 1 FROM mycelium.executors e "
					   "  WHERE e.agent_type = $1 AND e.executor IS NULL) "
					   "LIMIT 1",
					   4, argtypes, values, NULL, 1) == 0)
		return false;
	mc_workflow_read_locked(0, FIRST_FREE_WORKFLOW, &wf);
	limited = DatumGetBool(mc_catalog_value(0, FIRST_FREE_LIMITED, &isnull));

	/*
	 * A type with limits: what they leave, reserved in shared memory (else
	 * the claim statement that locks them).
	 */
	if (limited && !mc_limit_slots_available())
		return claim_from(session, rsinfo, agent_type, worker_id, &wf,
						  &locked, 1, 1, lease, true) > 0;
	if (limited && !mc_limits_take(agent_type, 1, &typelimits))
		limited = false;		/* its limits were lifted meanwhile */
	if (limited && !typelimits.any_room)
	{
		mc_limits_settle(&typelimits, 0, MC_CLAIMED_AGENT_TYPE);
		return false;
	}
	rows = mc_claim_one(session, &wf, worker_id, agent_type, lease);
	if (limited)
		mc_limits_settle(&typelimits, rows, MC_CLAIMED_AGENT_TYPE);
	if (rows == 0)
		return false;
	put_claimed(rsinfo, 0, mc_ctx_sources_inline(rows, MC_CLAIMED_CTX));
	return true;
}

/*
 * claim_commits_async
 *		Unless mycelium.synchronous_claims is on, lets a claim made outside
 *		a transaction block commit without waiting for its WAL to reach disk
 *		(or a synchronous standby), as SET LOCAL synchronous_commit = off
 *		would.  Such a claim lost in a crash leaves its tasks ready, as
 *		though it had not been made, which the design already survives (an
 *		agent's later calls about them are refused, and the tasks run
 *		again, as after a lapsed lease); an agent serving one task at a
 *		time then waits for one flush a task, its completion's, instead of
 *		two.  In a transaction block the claim commits with whatever else
 *		the transaction does, which keeps its own setting.
 */
static void
claim_commits_async(void)
{
	if (mc_synchronous_claims || IsTransactionBlock())
		return;
	(void) set_config_option("synchronous_commit", "off", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * mc_claim_tasks
 *		claim_tasks(agent_type, worker_id, max_tasks, lease): claims up to
 *		max_tasks ready tasks of an external agent type from the running
 *		workflows the caller controls, within each workflow's
 *		max_parallel_tasks, and returns them with their ctx.  Workflows
 *		another transaction holds are passed over (SKIP LOCKED) and the
 *		claim made up from others, in a few more rounds.  When the first
 *		round got nothing, the next ones wait for held workflows (and make
 *		up for tasks other agents took meanwhile), so a claim does not come
 *		back empty just because another agent was completing a task of the
 *		only workflow with work; unless the transaction already holds a
 *		workflow's row, when waiting for a lock could deadlock: then the
 *		claim looks again every millisecond, for about 0.1 s, and returns
 *		nothing if all the work stayed held.
 */
Datum
mc_claim_tasks(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	McCatalogSession session;
	char	   *agent_type = text_arg(fcinfo, 0, "agent_type");
	char	   *worker_id = mc_worker_id_arg(fcinfo, 1);
	int32		max_tasks;
	Interval   *lease;
	pg_uuid_t  *skip;
	int			nskip = 0;
	int			claimed = 0;
	int			round;
	bool		found = true;
	bool		held = false;

	if (PG_ARGISNULL(2) || PG_GETARG_INT32(2) < 1 || PG_GETARG_INT32(2) > MC_MAX_CLAIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_tasks must be between 1 and %d", MC_MAX_CLAIM)));
	max_tasks = PG_GETARG_INT32(2);
	mc_require_arg(fcinfo, 3, "lease");
	lease = lease_arg(fcinfo, 3);

	InitMaterializedSRF(fcinfo, 0);
	claim_commits_async();
	mc_catalog_open(&session);
	/* the one-task forms lock across shards: plain PostgreSQL only */
	if (max_tasks == 1 && !mc_citus_present() &&
		claim_one(&session, rsinfo, agent_type, worker_id, lease))
	{
		mc_catalog_close(&session);
		return (Datum) 0;
	}
	skip = palloc(sizeof(pg_uuid_t) * MC_CLAIM_SKIP);
	for (round = 0; round < MC_CLAIM_ROUNDS && claimed < max_tasks && found; round++)
	{
		/*
		 * With nothing had from the first round, wait for held workflows;
		 * but not while this transaction holds a workflow's row already
		 * (an agent completing a task and claiming the next in one
		 * transaction): waiting out of id order could close a cycle.
		 */
		bool		wait = round > 0 && claimed == 0 && !mc_workflows_locked_in_xact();

		claimed += claim_round(&session, rsinfo, agent_type, worker_id, skip,
							   &nskip, max_tasks - claimed, lease, wait, &found,
							   &held);
		/* nothing at all: is it for want of work, or a wrong agent type? */
		if (round == 0 && !found)
			require_external(agent_type);

		/*
		 * Nothing had, and nothing found past the held workflows: the next
		 * round looks at them again (and waits for them, if it may).
		 */
		if (!found && claimed == 0 && nskip > 0)
		{
			nskip = 0;
			found = true;
		}
	}

	/*
	 * Nothing claimed, and the work there is was held by transactions this
	 * one may not wait for: look again, further on each time, every
	 * millisecond for a while.  Never waiting for a lock, this cannot
	 * deadlock.
	 */
	for (round = 0; round < MC_CLAIM_POLLS && claimed == 0 && found && held; round++)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		claimed += claim_round(&session, rsinfo, agent_type, worker_id, skip,
							   &nskip, max_tasks, lease, false, &found, &held);
		/* looked past all the held ones: they may be free now */
		if (!found && nskip > 0)
		{
			nskip = 0;
			found = held = true;
		}
	}
	mc_catalog_close(&session);
	return (Datum) 0;
}

/*
 * agent_task_cmp
 *		Orders pointers to an agent's tasks by workflow id, then task id.
 */
static int
agent_task_cmp(const void *a, const void *b)
{
	const McAgentTask *x = *(McAgentTask *const *) a;
	const McAgentTask *y = *(McAgentTask *const *) b;
	int			c = mc_uuid_cmp(&x->workflow_id, &y->workflow_id);

	return c != 0 ? c : strcmp(x->task.task_id, y->task.task_id);
}

/*
 * lock_workflows
 *		Locks the workflows of an agent's call, in id order, and points each
 *		named task at its own; a task named twice is refused.  Returns the
 *		workflows (*nwfs of them, in id order).
 */
static McWorkflow *
lock_workflows(McCatalogSession *session, McAgentTask *ats, int n, int *nwfs)
{
	McAgentTask **sorted = palloc(sizeof(McAgentTask *) * n);
	pg_uuid_t  *ids = palloc(sizeof(pg_uuid_t) * n);
	McWorkflow *wfs;
	int			nw = 0;
	int			i;

	for (i = 0; i < n; i++)
		sorted[i] = &ats[i];
	qsort(sorted, n, sizeof(McAgentTask *), agent_task_cmp);
	for (i = 0; i < n; i++)
	{
		if (i > 0 && agent_task_cmp(&sorted[i - 1], &sorted[i]) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("task \"%s\" of workflow %s is named twice",
							mc_name_for_message(sorted[i]->task.task_id),
							mc_uuid_string(&sorted[i]->workflow_id))));
		if (nw == 0 || mc_uuid_cmp(&ids[nw - 1], &sorted[i]->workflow_id) != 0)
			ids[nw++] = sorted[i]->workflow_id;
	}
	wfs = palloc0(sizeof(McWorkflow) * nw);
	mc_workflows_lock_all(session, ids, nw, wfs);
	for (i = 0; i < n; i++)
		ats[i].wf = bsearch(&ats[i].workflow_id, wfs, nw, sizeof(McWorkflow),
							mc_uuid_cmp);
	*nwfs = nw;
	return wfs;
}

/* what the statements of mc_hold_agent_tasks say of the tasks they hold */
typedef struct HeldTasks
{
	char	  **holders;		/* the worker_id holding each */
	bool	   *claimed;		/* whether an external agent claimed it */
	char	  **lapsed;			/* when its lease lapsed, if it did */
} HeldTasks;

/*
 * read_held
 *		Fills at (and the place i of held) from row r of the last
 *		statement's result, whose HELD_COLUMNS start at column col.
 */
static void
read_held(uint64 r, int col, McAgentTask *at, HeldTasks *held, int i)
{
	bool		isnull;
	Datum		d;

	mc_task_read(r, col + HELD_TASK, &at->task);
	held->holders[i] = mc_catalog_text(r, col + HELD_WORKER_ID);
	held->claimed[i] = DatumGetBool(mc_catalog_value(r, col + HELD_CLAIMED, &isnull));
	held->lapsed[i] = mc_catalog_text(r, col + HELD_LAPSED);
	d = mc_catalog_value(r, col + HELD_OUTPUT_SCHEMA, &isnull);
	at->output_schema = isnull ? NULL : DatumGetJsonbPCopy(d);
	at->agent_type = mc_catalog_text(r, col + HELD_AGENT_TYPE);
}

/*
 * refuse_unless_held
 *		Refuses the call (MY003, changing nothing) unless worker_id holds
 *		the running attempt of each task of ats[0..n), as held says, under
 *		a lease that has not lapsed, in a workflow still going on; a task
 *		that was not found (task_no 0) does not exist, or a worker is
 *		finishing it.  The first such task in the call's order is named,
 *		with hint when the call names several.
 */
static void
refuse_unless_held(const char *worker_id, McAgentTask *ats, int n,
				   HeldTasks *held, const char *hint)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		McAgentTask *at = &ats[i];
		const char *reason = NULL;

		if (at->task.task_no == 0)
		{
			mc_task_raise_if_busy(at->wf, at->task.task_id);
			ereport(ERROR,
					(errcode(ERRCODE_MC_STATE),
					 errmsg("task \"%s\" does not exist in workflow %s",
							mc_name_for_message(at->task.task_id),
							mc_uuid_string(&at->workflow_id))));
		}
		if (at->task.status != MC_TASK_RUNNING)
			reason = psprintf("The task is %s.", mc_task_status_names[at->task.status]);
		else if (!held->claimed[i])
			reason = "No external agent claimed the task.";
		else if (strcmp(held->holders[i], worker_id) != 0)
			reason = psprintf("Worker \"%s\" holds attempt %d.", held->holders[i],
							  at->task.attempt);
		else if (held->lapsed[i] != NULL)
			reason = psprintf("Its lease lapsed at %s; the attempt counts as failed.",
							  held->lapsed[i]);
		else if (mc_workflow_status_is_ending(at->wf->status))
			reason = psprintf("Its workflow is %s.", mc_workflow_status_names[at->wf->status]);
		if (reason == NULL)
			continue;
		if (n == 1)
			ereport(ERROR,
					(errcode(ERRCODE_MC_STATE),
					 errmsg("worker \"%s\" does not hold task \"%s\"", worker_id,
							at->task.task_id),
					 errdetail_internal("%s", reason)));
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("worker \"%s\" does not hold task \"%s\" of workflow %s",
						worker_id, at->task.task_id, mc_uuid_string(&at->workflow_id)),
				 errdetail_internal("%s", reason),
				 hint ? errhint("%s", hint) : 0));
	}
}

/*
 * held_tasks
 *		A HeldTasks for n tasks, none found yet.
 */
static HeldTasks *
held_tasks(int n)
{
	HeldTasks  *held = palloc(sizeof(HeldTasks));

	held->holders = palloc0(sizeof(char *) * n);
	held->claimed = palloc0(sizeof(bool) * n);
	held->lapsed = palloc0(sizeof(char *) * n);
	return held;
}

/*
 * hold_one
 *		mc_hold_agent_tasks for a call that names one task, in one
 *		statement: it locks the workflow's row (waiting for it, as
 *		mc_workflow_lock does), then the task's (passing over it if a
 *		worker finishing it holds it), and reads both, at their latest
 *		versions.  Returns the workflow, or NULL when the statement found
 *		nothing the caller may see (no such workflow or task, or the task
 *		is held): then mc_hold_agent_tasks says why as it does for
 *		several tasks.
 */
static McWorkflow *
hold_one(McCatalogSession *session, const char *worker_id, McAgentTask *at)
{
	static const Oid argtypes[] = {UUIDOID, TEXTOID};
	McWorkflow *wf;
	HeldTasks  *held;
	Datum		values[2];

	values[0] = UUIDPGetDatum(&at->workflow_id);
	values[1] = CStringGetTextDatum(at->task.task_id);
	if (mc_catalog_run(MC_PLAN_AGENT_TASK_ONE,
					   "SELECT " MC_WORKFLOW_COLUMNS("w") ", " HELD_COLUMNS("t")
					   "FROM mycelium.workflow_states w "
					   "JOIN mycelium.task_ids n "
					   "  ON n.workflow_id = w.workflow_id AND n.task_id = $2 COLLATE \"C\" "
					   "JOIN mycelium.task_states t "
					   "  ON t.workflow_id = n.workflow_id AND t.task_no = n.task_no "
					   "LEFT JOIN mycelium.executors e ON e.agent_type = t.agent_type "
					   "WHERE w.workflow_id = $1 "
					   "FOR UPDATE OF w FOR UPDATE OF t SKIP LOCKED",
					   2, argtypes, values, NULL, 1) == 0)
		return NULL;
	wf = palloc0(sizeof(McWorkflow));
	mc_workflow_read_locked(0, HOLD_ONE_WORKFLOW, wf);
	if (!mc_workflow_visible(session, wf->owner))
		return NULL;
	at->wf = wf;
	held = held_tasks(1);
	read_held(0, HOLD_ONE_HELD, at, held, 0);
	refuse_unless_held(worker_id, at, 1, held, NULL);
	return wf;
}

/*
 * mc_hold_agent_tasks
 *		Locks the workflows and the tasks an agent's call names (ats[0..n),
 *		with workflow_id and task.task_id set), in one statement for the
 *		tasks, and checks that worker_id holds each task's running attempt
 *		under a lease that has not lapsed, in a workflow still going on.
 *		Anything else is refused (MY003, for the first such task in the
 *		call's order, with hint when the call names several tasks) and
 *		changes nothing.  Returns the workflows, as lock_workflows does.
 *		complete_task, complete_tasks, heartbeat, fail_task and
 *		release_task(s) (api_release.c) all hold their tasks so; a call
 *		naming one task in one statement (hold_one) when it holds it.
 */
McWorkflow *
mc_hold_agent_tasks(McCatalogSession *session, const char *worker_id,
					McAgentTask *ats, int n, int *nwfs, const char *hint)
{
	static const Oid argtypes[] = {UUIDARRAYOID, TEXTARRAYOID};
	McWorkflow *wfs;
	Datum	   *wids = palloc(sizeof(Datum) * n);
	Datum	   *tids = palloc(sizeof(Datum) * n);
	HeldTasks  *held = held_tasks(n);
	Datum		values[2];
	uint64		rows;
	uint64		r;
	int			i;

	if (n == 1 && !mc_citus_present() &&
		(wfs = hold_one(session, worker_id, &ats[0])) != NULL)
	{
		*nwfs = 1;
		return wfs;
	}
	wfs = lock_workflows(session, ats, n, nwfs);
	for (i = 0; i < n; i++)
	{
		wids[i] = UUIDPGetDatum(&ats[i].workflow_id);
		tids[i] = CStringGetTextDatum(ats[i].task.task_id);
		ats[i].task.task_no = 0;
	}
	values[0] = mc_catalog_array(wids, n, UUIDOID);
	values[1] = mc_catalog_array(tids, n, TEXTOID);
	if (mc_citus_present())
		rows = mc_citus_hold_tasks(n, wids, tids);
	else
		rows = mc_catalog_run(MC_PLAN_AGENT_TASK,
						  "SELECT f.i, " HELD_COLUMNS("t")
						  "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.uuid[]), "
						  "  pg_catalog.unnest($2::pg_catalog.text[])) WITH ORDINALITY AS f(workflow_id, task_id, i) "
						  "JOIN mycelium.task_ids n "
						  "  ON n.workflow_id = f.workflow_id AND n.task_id = f.task_id COLLATE \"C\" "
						  "JOIN mycelium.task_states t "
						  "  ON t.workflow_id = n.workflow_id AND t.task_no = n.task_no "
						  "LEFT JOIN mycelium.executors e ON e.agent_type = t.agent_type "
						  "FOR UPDATE OF t SKIP LOCKED",
						  2, argtypes, values, NULL, 0);
	for (r = 0; r < rows; r++)
	{
		bool		isnull;
		int			k = DatumGetInt64(mc_catalog_value(r, HOLD_N, &isnull)) - 1;

		read_held(r, HOLD_HELD, &ats[k], held, k);
	}
	refuse_unless_held(worker_id, ats, n, held, hint);
	return wfs;
}

/*
 * hold_task
 *		mc_hold_agent_tasks for the one task of a heartbeat or a report of failure.
 */
static McWorkflow *
hold_task(McCatalogSession *session, FunctionCallInfo fcinfo,
		  const char *worker_id, McAgentTask *at)
{
	int			nwfs;

	memset(at, 0, sizeof(McAgentTask));
	mc_require_arg(fcinfo, 0, "workflow_id");
	at->workflow_id = *PG_GETARG_UUID_P(0);
	at->task.task_id = text_arg(fcinfo, 1, "task_id");
	return mc_hold_agent_tasks(session, worker_id, at, 1, &nwfs, NULL);
}

/*
 * task_status_datum
 *		A task status as a value of the mycelium.task_status type typid.
 */
static Datum
task_status_datum(Oid typid, McTaskStatus status)
{
	return DirectFunctionCall2(enum_in, CStringGetDatum(mc_task_status_names[status]),
							   ObjectIdGetDatum(typid));
}

/*
 * complete_held
 *		Completes the held tasks ats[0..n) (mc_hold_agent_tasks; their workflows are
 *		wfs[0..nwfs)) with their results: the completions in one statement,
 *		one version each in the call's order; then, one by one, the results
 *		that break their agent type's output schema, as failed attempts
 *		(with a warning that lists the violations).  Saves the workflows,
 *		and hands to the scheduler those where a function task may now
 *		run: one just released, or one that waited for a place under
 *		max_parallel_tasks.  Sets each task's outcome.
 */
static void
complete_held(McCatalogSession *session, const char *worker_id,
			  McAgentTask *ats, int n, McWorkflow *wfs, int nwfs)
{
	Datum	   *ids = palloc(sizeof(Datum) * n);
	Datum	   *nos = palloc(sizeof(Datum) * n);
	Datum	   *results = palloc(sizeof(Datum) * n);
	Datum	   *versions = palloc(sizeof(Datum) * n);
	char	  **violations = palloc0(sizeof(char *) * n);
	bool	   *push = palloc0(sizeof(bool) * nwfs);
	McWorkflow **wfps = palloc(sizeof(McWorkflow *) * nwfs);
	Jsonb	   *json_null = NULL;
	int			ndone = 0;
	bool		saved;
	bool		leaves = true;	/* no task depends on those completed */
	uint64		rows;
	uint64		r;
	int			i;

	for (i = 0; i < nwfs; i++)
		push[i] = wfs[i].tasks_running >= wfs[i].max_parallel_tasks;

	for (i = 0; i < n; i++)
	{
		McAgentTask *at = &ats[i];
		McWorkflow *wf = at->wf;

		if (at->output_schema != NULL)
		{
			if (at->result == NULL && json_null == NULL)
				json_null = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("null")));
			violations[i] = mc_json_schema_violations(at->output_schema,
													  at->result ? at->result : json_null);
			if (violations[i] != NULL)
				continue;
		}
		leaves &= at->task.dependents == (Datum) 0;
		ids[ndone] = UUIDPGetDatum(&wf->id);
		nos[ndone] = Int32GetDatum(at->task.task_no);
		results[ndone] = at->result ? JsonbPGetDatum(at->result) : (Datum) 0;
		versions[ndone] = Int64GetDatum(wf->version);
		ndone++;
		mc_workflow_count_completed(wf, 1);
		at->outcome = MC_TASK_COMPLETED;
	}

	/*
	 * All in one workflow, none refused by the output schema, and the
	 * workflow goes on: the statement that records them saves it too
	 * (not on Citus, whose record is one statement per workflow).
	 */
	saved = nwfs == 1 && ndone == n && wfs[0].tasks_open > 0 && !wfs[0].status_set &&
		!mc_citus_present();
	if (saved)
		mc_workflow_settle(session, &wfs[0]);
	rows = ndone == 0 ? 0 :
		mc_record_completions(session, ndone, ids, nos, results, versions,
							  psprintf("completed by %s", worker_id),
							  saved ? &wfs[0] : NULL, leaves);
	for (r = 0; r < rows; r++)
	{
		bool		isnull;
		McWorkflow *wf;

		if (!DatumGetBool(mc_catalog_value(r, MC_RELEASED_READY, &isnull)))
			continue;
		/* an external agent's task is ready: its agents hear of it */
		(void) mc_catalog_value(r, MC_RELEASED_EXTERNAL_TYPE, &isnull);
		if (!isnull)
		{
			mc_notify_ready_row(r, MC_RELEASED_EXTERNAL_TYPE);
			continue;
		}
		/* a function task is ready: the scheduler's */
		wf = bsearch(DatumGetUUIDP(mc_catalog_value(r, MC_RELEASED_WORKFLOW_ID, &isnull)), wfs, nwfs,
					 sizeof(McWorkflow), mc_uuid_cmp);
		push[wf - wfs] = true;
	}

	for (i = 0; i < n; i++)
	{
		McAgentTask *at = &ats[i];
		char	   *error;

		if (violations[i] == NULL)
			continue;
		ereport(WARNING,
				(errcode(ERRCODE_MC_EXECUTION),
				 errmsg("result of task \"%s\" does not match the output schema of agent type \"%s\"",
						at->task.task_id, at->agent_type),
				 errdetail_internal("%s", violations[i]),
				 errhint("The attempt counts as failed.")));
		error = psprintf("result of task \"%s\" does not match the output schema of agent type \"%s\" (%s)",
						 at->task.task_id, at->agent_type, violations[i]);
		at->outcome = mc_fail_attempt(session, at->wf, &at->task, error,
									  "output_schema");
		mc_workflow_count_change(at->wf);
		/* with allow_failure, a failed task releases its dependents */
		push[at->wf - wfs] = true;
	}

	for (i = 0; i < nwfs; i++)
	{
		if (!saved)
			mc_workflow_settle(session, &wfs[i]);
		wfps[i] = &wfs[i];
		if (push[i] && wfs[i].status == MC_WF_RUNNING)
			mc_push_at_commit(&wfs[i].id, InvalidOid, wfs[i].priority);
	}
	if (!saved)
		mc_workflows_save(session, wfps, nwfs);
}

/*
 * finish_call
 *		Saves the workflow an agent's call changed, hands it to the
 *		scheduler (the tasks it released may be function tasks), and
 *		returns the task's new status as a mycelium.task_status.
 */
static Datum
finish_call(FunctionCallInfo fcinfo, McCatalogSession *session, McWorkflow *wf,
			McTaskStatus status)
{
	mc_workflow_save(session, wf);
	if (wf->status == MC_WF_RUNNING)
		mc_push_at_commit(&wf->id, InvalidOid, wf->priority);
	mc_catalog_close(session);
	return task_status_datum(get_fn_expr_rettype(fcinfo->flinfo), status);
}

/*
 * mc_heartbeat
 *		heartbeat(workflow_id, task_id, worker_id, progress, lease): the
 *		agent still works on the task.  Extends the lease (by the claim's
 *		lease, or the one given, never past the task's timeout) and records
 *		progress; returns when the lease now lapses.  Not a new version: a
 *		heartbeat changes nothing of the workflow's state.
 */
Datum
mc_heartbeat(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[] = {UUIDOID, INT4OID, JSONBOID, INTERVALOID};
	McCatalogSession session;
	McWorkflow *wf;
	McAgentTask	at;
	char	   *worker_id = mc_worker_id_arg(fcinfo, 2);
	Interval   *lease = lease_arg(fcinfo, 4);
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		isnull;
	Datum		lease_until;

	if (!PG_ARGISNULL(3))
		mc_check_payload_size(PG_GETARG_JSONB_P(3), "progress");

	mc_catalog_open(&session);
	wf = hold_task(&session, fcinfo, worker_id, &at);
	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = Int32GetDatum(at.task.task_no);
	values[2] = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	nulls[2] = PG_ARGISNULL(3) ? 'n' : ' ';
	values[3] = lease ? IntervalPGetDatum(lease) : (Datum) 0;
	nulls[3] = lease ? ' ' : 'n';
	mc_catalog_run(MC_PLAN_HEARTBEAT,
				   "UPDATE mycelium.task_states t SET lease = COALESCE($4, t.lease), "
				   "  lease_until = LEAST("
				   MC_SQL_PLUS_INTERVAL("pg_catalog.clock_timestamp()", "COALESCE($4, t.lease)") ", "
				   MC_SQL_PLUS_SECONDS("t.started_at", "t.timeout") "), "
				   "  progress = COALESCE($3, t.progress) "
				   "WHERE t.workflow_id = $1 AND t.task_no = $2 "
				   "RETURNING t.lease_until",
				   4, argtypes, values, nulls, 1);
	lease_until = mc_catalog_value(0, HEARTBEAT_LEASE_UNTIL, &isnull);
	mc_catalog_close(&session);
	PG_RETURN_DATUM(lease_until);
}

/*
 * agent_result
 *		A task result from an agent, checked for size; NULL for SQL NULL.
 */
static Jsonb *
agent_result(Datum d, bool isnull)
{
	Jsonb	   *result;

	if (isnull)
		return NULL;
	result = DatumGetJsonbP(d);
	mc_check_payload_size(result, "task result");
	return result;
}

/*
 * mc_complete_task
 *		complete_task(workflow_id, task_id, worker_id, result): the held
 *		attempt succeeded.  A result that breaks the agent type's output
 *		schema makes it a failed attempt instead (with a warning that lists
 *		the violations).  Returns the task's new status.
 */
Datum
mc_complete_task(PG_FUNCTION_ARGS)
{
	McCatalogSession session;
	McWorkflow *wfs;
	McAgentTask	at;
	char	   *worker_id = mc_worker_id_arg(fcinfo, 2);
	Jsonb	   *result = agent_result(PG_GETARG_DATUM(3), PG_ARGISNULL(3));
	int			nwfs;

	memset(&at, 0, sizeof(at));
	mc_require_arg(fcinfo, 0, "workflow_id");
	at.workflow_id = *PG_GETARG_UUID_P(0);
	at.task.task_id = text_arg(fcinfo, 1, "task_id");
	at.result = result;

	mc_catalog_open(&session);
	wfs = mc_hold_agent_tasks(&session, worker_id, &at, 1, &nwfs, NULL);
	complete_held(&session, worker_id, &at, 1, wfs, nwfs);
	mc_catalog_close(&session);
	return task_status_datum(get_fn_expr_rettype(fcinfo->flinfo), at.outcome);
}

/*
 * mc_array_arg
 *		The elements of a one-dimensional array argument (NULL: no
 *		elements); *n gets their number, nulls (if given) which are NULL.
 *		NULL elements are refused unless nulls is given.  The agents'
 *		calls that take several tasks read their arrays with it.
 */
Datum *
mc_array_arg(FunctionCallInfo fcinfo, int argno, const char *name, Oid elemtype,
			 int *n, bool **nulls)
{
	ArrayType  *array;
	Datum	   *elems;
	bool	   *elemnulls;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			i;

	*n = 0;
	if (nulls)
		*nulls = NULL;
	if (PG_ARGISNULL(argno))
		return NULL;
	array = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", name)));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign,
					  &elems, &elemnulls, n);
	for (i = 0; i < *n && nulls == NULL; i++)
	{
		if (elemnulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", name)));
	}
	if (nulls)
		*nulls = elemnulls;
	return elems;
}

/*
 * mc_complete_tasks
 *		complete_tasks(worker_id, workflow_ids, task_ids, results): the
 *		held attempts of several tasks succeeded, the ith task being
 *		task_ids[i] of workflow_ids[i] with result results[i] (results NULL:
 *		no results).  All of them or none: if the worker does not hold one,
 *		the call is refused and changes nothing.  What complete_task does
 *		for one task, in a few statements for all; returns each task's new
 *		status, in the call's order.
 */
Datum
mc_complete_tasks(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	McCatalogSession session;
	char	   *worker_id = mc_worker_id_arg(fcinfo, 0);
	McWorkflow *wfs;
	McAgentTask *ats;
	Datum	   *wids;
	Datum	   *tids;
	Datum	   *results;
	bool	   *rnulls;
	int			n;
	int			ntids;
	int			nresults;
	int			nwfs;
	int			i;

	mc_require_arg(fcinfo, 1, "workflow_ids");
	mc_require_arg(fcinfo, 2, "task_ids");
	wids = mc_array_arg(fcinfo, 1, "workflow_ids", UUIDOID, &n, NULL);
	tids = mc_array_arg(fcinfo, 2, "task_ids", TEXTOID, &ntids, NULL);
	results = mc_array_arg(fcinfo, 3, "results", JSONBOID, &nresults, &rnulls);
	if (ntids != n || (!PG_ARGISNULL(3) && nresults != n))
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("workflow_ids, task_ids and results must have the same length"),
				 errdetail("workflow_ids has %d elements, task_ids %d, results %d.",
						   n, ntids, PG_ARGISNULL(3) ? n : nresults)));
	if (n > MC_MAX_CLAIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("complete_tasks takes at most %d tasks a call", MC_MAX_CLAIM)));

	InitMaterializedSRF(fcinfo, 0);
	if (n == 0)
		return (Datum) 0;
	ats = palloc0(sizeof(McAgentTask) * n);
	for (i = 0; i < n; i++)
	{
		ats[i].workflow_id = *DatumGetUUIDP(wids[i]);
		ats[i].task.task_id = TextDatumGetCString(tids[i]);
		if (results != NULL)
			ats[i].result = agent_result(results[i], rnulls[i]);
	}

	mc_catalog_open(&session);
	wfs = mc_hold_agent_tasks(&session, worker_id, ats, n, &nwfs,
							  "Nothing was recorded: complete_tasks records all the tasks it is given, or none.");
	complete_held(&session, worker_id, ats, n, wfs, nwfs);
	mc_catalog_close(&session);

	for (i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = UUIDPGetDatum(&ats[i].workflow_id);
		values[1] = CStringGetTextDatum(ats[i].task.task_id);
		values[2] = task_status_datum(TupleDescAttr(rsinfo->setDesc, 2)->atttypid,
									  ats[i].outcome);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * mc_fail_task
 *		fail_task(workflow_id, task_id, worker_id, error, error_type): the
 *		held attempt failed, error saying why and error_type (1 to 63
 *		lower-case letters, digits and _) what kind of failure it was; the
 *		task is retried per its policy or fails.  Returns the task's new
 *		status.
 */
Datum
mc_fail_task(PG_FUNCTION_ARGS)
{
	McCatalogSession session;
	McWorkflow *wf;
	McAgentTask	at;
	char	   *worker_id = mc_worker_id_arg(fcinfo, 2);
	char	   *error = text_arg(fcinfo, 3, "error");
	char	   *error_type = text_arg(fcinfo, 4, "error_type");
	size_t		len = strlen(error_type);

	mc_check_error_size(error);
	if (len == 0 || len > 63 || strspn(error_type, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid error_type \"%s\"", mc_name_for_message(error_type)),
				 errdetail("An error_type is 1 to 63 lower-case letters, digits and underscores.")));

	mc_catalog_open(&session);
	wf = hold_task(&session, fcinfo, worker_id, &at);
	return finish_call(fcinfo, &session, wf,
					   mc_fail_attempt(&session, wf, &at.task, error, error_type));
}
