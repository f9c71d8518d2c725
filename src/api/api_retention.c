/*-------------------------------------------------------------------------
 *
 * api_retention.c
 *		Deleting workflows: delete_workflow, the purge_workflows procedure,
 *		and the trigger that removes a deleted workflow's other rows.
 *
 * A workflow's rows are spread over several tables keyed by workflow_id
 * (tasks, task ids, history, handoff messages, events).  Deleting its row in
 * workflow_states, by whatever means, removes the rest: a statement-level
 * trigger on workflow_states deletes the rows of every workflow the
 * statement deleted from the other tables, so even a superuser's plain
 * DELETE leaves no orphan row.  The tables keep no foreign keys: those
 * would add a check to every task and history row the scheduler writes,
 * while the trigger costs only deletions.
 *
 * A workflow whose tasks may still run (status running, or tasks still
 * running after a pause or cancel) is never deleted: delete_workflow says
 * so, purge_workflows passes over it and the trigger refuses a DELETE that
 * would remove it.
 *
 * purge_workflows is a procedure that commits after each batch, so that
 * removing a large backlog holds row locks only for a batch at a time
 * and leaves the space to vacuum as it goes.  Each batch locks the rows
 * it takes with SKIP LOCKED, so it never waits for a workflow another
 * transaction is changing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/uuid.h"

#include "catalog.h"
#include "citus.h"
#include "mycelium.h"
#include "mycelium_errcodes.h"
#include "observe.h"
#include "state.h"
#include "taskdef.h"

PG_FUNCTION_INFO_V1(mc_delete_workflow);
PG_FUNCTION_INFO_V1(mc_purge_workflows);
PG_FUNCTION_INFO_V1(mc_workflows_deleted);

/* largest batch_size of purge_workflows */
#define MC_MAX_PURGE_BATCH 100000

/*
 * The tables that hold a workflow's rows besides workflow_states, each
 * with workflow_id as the leading column of its primary key.
 */
static const char *const workflow_tables[] = {
	"task_states", "task_ids", "workflow_state_history", "handoffs",
	"workflow_events", "workflow_signals"
};

/*
 * uuid_text
 *		A workflow id as text, for a message.
 */
static char *
uuid_text(pg_uuid_t *id)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
}

/*
 * citus_delete_rows
 *		On Citus, where mycelium.distribute() dropped the workflows_deleted
 *		trigger (a trigger on a shard cannot reach the other tables' shards):
 *		deletes one deleted workflow's rows from the other tables, each by a
 *		statement that goes to the workflow's shard group.
 */
static void
citus_delete_rows(Datum id)
{
	Oid			argtypes[1] = {UUIDOID};
	Datum		values[1] = {id};
	int			i;

	for (i = 0; i < lengthof(workflow_tables); i++)
	{
		char	   *sql = psprintf("DELETE FROM mycelium.%s WHERE workflow_id = $1",
								   workflow_tables[i]);

		if (SPI_execute_with_args(sql, 1, argtypes, values, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not delete the rows of a deleted workflow from mycelium.%s",
				 workflow_tables[i]);
	}
}

/*
 * mc_delete_workflow
 *		delete_workflow(id): removes a workflow and all its rows, unless its
 *		tasks may still run.  Another role's workflow is reported as not
 *		existing, as everywhere.
 */
Datum
mc_delete_workflow(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[] = {UUIDOID};
	pg_uuid_t  *id = PG_GETARG_UUID_P(0);
	McCatalogSession session;
	McWorkflow	wf;
	Datum		values[1];

	mc_catalog_open(&session);
	mc_workflow_lock(&session, id, &wf);
	if (wf.status == MC_WF_RUNNING || wf.tasks_running > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("cannot delete workflow %s while its tasks may run", uuid_text(id)),
				 errdetail("It is %s with %d task(s) running.",
						   mc_workflow_status_names[wf.status], wf.tasks_running),
				 errhint("Cancel it with mycelium.cancel_workflow() and wait for it to end first.")));
	values[0] = UUIDPGetDatum(id);
	mc_catalog_run(MC_PLAN_WORKFLOW_DELETE,
				   "DELETE FROM mycelium.workflow_states WHERE workflow_id = $1",
				   1, argtypes, values, NULL, 0);
	if (mc_citus_present())
		citus_delete_rows(values[0]);
	mc_notify_workflows_changed();
	mc_catalog_close(&session);
	PG_RETURN_VOID();
}

/*
 * purge_statuses
 *		The statuses argument of purge_workflows as an array datum, checked:
 *		only the statuses of finished workflows may be purged.
 */
static Datum
purge_statuses(FunctionCallInfo fcinfo, int argno)
{
	ArrayType  *statuses;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("statuses must not be NULL")));
	statuses = PG_GETARG_ARRAYTYPE_P(argno);
	deconstruct_array(statuses, ARR_ELEMTYPE(statuses), sizeof(Oid), true,
					  TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		char	   *name;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("statuses must not contain NULL")));
		name = DatumGetCString(DirectFunctionCall1(enum_out, elems[i]));
		if (!mc_workflow_status_is_terminal(mc_workflow_status_from_name(name)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("purge_workflows removes only finished workflows, not %s ones", name),
					 errhint("Give statuses among completed, failed and cancelled.")));
	}
	return PointerGetDatum(statuses);
}

/*
 * PURGE_CONDITION
 *		What a workflow must be for purge_batch to delete it: finished with
 *		one of the statuses $1 before now() - $2, no attempt left to
 *		record, and the caller's (mine) or the caller an administrator
 *		($4).  The status test is repeated as written so that the partial
 *		index on finished_at applies.
 */
#define PURGE_CONDITION(mine) \
	"status IN ('completed', 'failed', 'cancelled') " \
	"AND status = ANY ($1) AND tasks_running = 0 " \
	"AND finished_at < pg_catalog.now() - $2 " \
	"AND (" mine " OR $4) "

/*
 * citus_purge_batch
 *		purge_batch on Citus, which refuses FOR UPDATE across shards: the
 *		workflows to delete are found first, without locks, in a statement
 *		over every shard; then each, in id order, in one statement routed to
 *		its shard group that locks its row if no other transaction holds it
 *		and the row still qualifies (but for its owner, which never changes:
 *		Citus would compare it with this node's OID of the caller, folded
 *		into a number), and deletes it with its rows in the other tables (the trigger that does that on plain PostgreSQL is not
 *		there: see mycelium.distribute()).  Takes purge_batch's parameters
 *		and, sixth, the caller's name, which the statement over every shard
 *		compares owners with (mc_citus_role_name); returns how many it
 *		deleted.
 */
static uint64
citus_purge_batch(Oid *types, Datum *values)
{
	Oid			one_types[6];
	Datum		one_values[6];
	pg_uuid_t  *ids;
	uint64		found;
	uint64		n = 0;
	uint64		r;

	found = mc_catalog_run(MC_PLAN_CITUS_PURGE_FIND,
						   "SELECT workflow_id FROM mycelium.workflow_states "
						   "WHERE " PURGE_CONDITION("owner = pg_catalog.to_regrole($6)")
						   "ORDER BY finished_at LIMIT $5",
						   6, types, values, NULL, 0);
	ids = palloc(sizeof(pg_uuid_t) * Max(found, 1));
	for (r = 0; r < found; r++)
	{
		bool		isnull;

		ids[r] = *DatumGetUUIDP(mc_catalog_value(r, MC_ONLY_COLUMN, &isnull));
	}
	qsort(ids, found, sizeof(pg_uuid_t), mc_uuid_cmp);
	memcpy(one_types, types, sizeof(Oid) * 4);
	memcpy(one_values, values, sizeof(Datum) * 4);
	one_types[4] = UUIDOID;
	for (r = 0; r < found; r++)
	{
		one_values[4] = UUIDPGetDatum(&ids[r]);
		n += mc_catalog_run(MC_PLAN_CITUS_PURGE_ONE,
							"WITH w AS ("
							"  SELECT workflow_id FROM mycelium.workflow_states "
							"  WHERE workflow_id = $5 AND " PURGE_CONDITION("true")
							"  FOR UPDATE SKIP LOCKED"
							"), t AS (DELETE FROM mycelium.task_states x USING w "
							"  WHERE x.workflow_id = $5 AND x.workflow_id = w.workflow_id"
							"), i AS (DELETE FROM mycelium.task_ids x USING w "
							"  WHERE x.workflow_id = $5 AND x.workflow_id = w.workflow_id"
							"), h AS (DELETE FROM mycelium.workflow_state_history x USING w "
							"  WHERE x.workflow_id = $5 AND x.workflow_id = w.workflow_id"
							"), m AS (DELETE FROM mycelium.handoffs x USING w "
							"  WHERE x.workflow_id = $5 AND x.workflow_id = w.workflow_id"
							"), e AS (DELETE FROM mycelium.workflow_events x USING w "
							"  WHERE x.workflow_id = $5 AND x.workflow_id = w.workflow_id"
							"), g AS (DELETE FROM mycelium.workflow_signals x USING w "
							"  WHERE x.workflow_id = $5 AND x.workflow_id = w.workflow_id"
							") "
							"DELETE FROM mycelium.workflow_states s USING w "
							"WHERE s.workflow_id = $5 AND s.workflow_id = w.workflow_id",
							5, one_types, one_values, NULL, 0);
		CHECK_FOR_INTERRUPTS();
	}
	return n;
}

/*
 * purge_batch
 *		Deletes up to batch_size of the caller's finished workflows (an
 *		administrator's: anyone's) with one of statuses that finished before
 *		now() - older_than, oldest first, passing over those another
 *		transaction holds; returns how many.
 */
static uint64
purge_batch(Datum statuses, Datum older_than, int32 batch_size)
{
	static const Oid argtypes[] = {InvalidOid, INTERVALOID, REGROLEOID,
		BOOLOID, INT4OID, TEXTOID};
	McCatalogSession session;
	Oid			types[6];
	Datum		values[6];
	uint64		n;

	mc_catalog_open(&session);
	memcpy(types, argtypes, sizeof(types));
	types[0] = get_array_type(ARR_ELEMTYPE(DatumGetArrayTypeP(statuses)));
	values[0] = statuses;
	values[1] = older_than;
	values[2] = ObjectIdGetDatum(session.caller);
	values[3] = BoolGetDatum(session.caller_is_admin);
	values[4] = Int32GetDatum(batch_size);
	if (mc_citus_present())
	{
		values[5] = mc_citus_role_name(session.caller);
		n = citus_purge_batch(types, values);
	}
	else
		n = mc_catalog_run(MC_PLAN_PURGE_BATCH,
						   "WITH w AS ("
						   "  SELECT workflow_id FROM mycelium.workflow_states "
						   "  WHERE " PURGE_CONDITION("owner = $3")
						   "  ORDER BY finished_at LIMIT $5 "
						   "  FOR UPDATE SKIP LOCKED) "
						   "DELETE FROM mycelium.workflow_states s USING w "
						   "WHERE s.workflow_id = w.workflow_id",
						   5, types, values, NULL, 0);
	if (n > 0)
		mc_notify_workflows_changed();
	mc_catalog_close(&session);
	return n;
}

/*
 * mc_purge_workflows
 *		purge_workflows(older_than, statuses, batch_size, purged): removes
 *		the caller's workflows (an administrator's: all) that finished with
 *		one of statuses longer than older_than ago, batch_size at a time,
 *		committing after each batch when called by CALL outside a
 *		transaction block (inside one, all in that transaction).  Returns
 *		how many it removed.
 */
Datum
mc_purge_workflows(PG_FUNCTION_ARGS)
{
	bool		nonatomic;
	Datum		older_than;
	Datum		statuses;
	int32		batch_size;
	int64		purged = 0;
	TupleDesc	desc;
	Datum		result[1];
	bool		result_null[1] = {false};

	nonatomic = fcinfo->context != NULL && IsA(fcinfo->context, CallContext) &&
		!castNode(CallContext, fcinfo->context)->atomic;
	mc_require_arg(fcinfo, 0, "older_than");
	older_than = PG_GETARG_DATUM(0);
	statuses = purge_statuses(fcinfo, 1);
	mc_require_arg(fcinfo, 2, "batch_size");
	batch_size = PG_GETARG_INT32(2);
	if (batch_size < 1 || batch_size > MC_MAX_PURGE_BATCH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch_size must be between 1 and %d", MC_MAX_PURGE_BATCH)));

	if (SPI_connect_ext(nonatomic ? SPI_OPT_NONATOMIC : 0) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (;;)
	{
		uint64		n = purge_batch(statuses, older_than, batch_size);

		purged += n;
		if (nonatomic)
			SPI_commit();
		if (n < (uint64) batch_size)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");

	desc = CreateTemplateTupleDesc(1);
	TupleDescInitEntry(desc, (AttrNumber) 1, "purged", INT8OID, -1, 0);
	desc = BlessTupleDesc(desc);
	result[0] = Int64GetDatum(purged);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, result, result_null)));
}

/* the columns of the read of a deleted workflow that may still run */
enum
{
	BUSY_WORKFLOW_ID = 1,
	BUSY_STATUS,
	BUSY_TASKS_RUNNING
};

/*
 * mc_workflows_deleted
 *		The statement-level AFTER DELETE trigger of workflow_states: refuses
 *		the deletion of a workflow whose tasks may still run, and deletes
 *		the rows of the deleted workflows from every other table.
 */
Datum
mc_workflows_deleted(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	McCatalogSession session;
	int			nestlevel;
	int			i;

	if (!CALLED_AS_TRIGGER(fcinfo) || trigdata->tg_oldtable == NULL ||
		!TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mycelium.workflows_deleted() must be called as a statement-level AFTER DELETE trigger with an OLD TABLE")));

	mc_catalog_open(&session);
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "SPI_register_trigger_data failed");
	if (SPI_execute("SELECT workflow_id::pg_catalog.text, status::pg_catalog.text, tasks_running "
					"FROM deleted_workflows "
					"WHERE status OPERATOR(pg_catalog.=) 'running' "
					"   OR tasks_running OPERATOR(pg_catalog.>) 0 LIMIT 1",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the deleted workflows");
	if (SPI_processed > 0)
	{
		bool		isnull;

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("cannot delete workflow %s while its tasks may run",
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, BUSY_WORKFLOW_ID)),
				 errdetail("It is %s with %d task(s) running.",
						   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, BUSY_STATUS),
						   DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, BUSY_TASKS_RUNNING, &isnull))),
				 errhint("Cancel it with mycelium.cancel_workflow() and wait for it to end first.")));
	}

	/*
	 * Each table is reached through its primary key, whose leading column
	 * is workflow_id, however small the tables look to the planner (these
	 * statements are planned at each call, while the deleted workflows may
	 * be a few among very many).
	 */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	for (i = 0; i < lengthof(workflow_tables); i++)
	{
		char	   *sql = psprintf("DELETE FROM mycelium.%s x "
								   "WHERE x.workflow_id IN (SELECT workflow_id FROM deleted_workflows)",
								   workflow_tables[i]);

		if (SPI_execute(sql, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not delete the rows of deleted workflows from mycelium.%s",
				 workflow_tables[i]);
	}
	AtEOXact_GUC(true, nestlevel);
	mc_catalog_close(&session);
	return PointerGetDatum(NULL);
}
