/*-------------------------------------------------------------------------
 *
 * api_operator.c
 *		SQL-callable helper of the operator views (89_operator.sql):
 *		ready_task_count(), the ready tasks of an agent type that
 *		agent_type_stats counts.
 *
 * agent_type_stats is to answer in milliseconds with 100,000 active
 * workflows, and counting an agent type's 100,000 ready tasks through an
 * index-only scan took most of it: the executor's work per index entry
 * (a tuple stored in a slot, a qual for row-level security, a transition
 * of count()), not the index's pages.  This function counts the entries
 * of the deduplicated index task_states_ready_count_idx (agent_type,
 * owner) itself, deciding each one's visibility as an index-only scan
 * does: from the visibility map when the heap page is all-visible, else
 * by fetching the heap tuple under the statement's snapshot.  Row-level
 * security is applied as the policy of task_states says, as a key of the
 * scan: a role that is not a member of mycelium_admin counts the entries
 * of its own tasks only.  The ready tasks of workflows not running
 * (pending or paused), which the index has too, are counted by a query
 * from those workflows, under the same snapshot, and taken off; the
 * query is prepared once per session.  Where Citus is created, task_states is
 * distributed and its local table empty: the count is a query then, which
 * names the caller to the workers by name (RUNNING_SQL).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/visibilitymap.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "catalog.h"
#include "citus.h"
#include "mycelium.h"

PG_FUNCTION_INFO_V1(mc_ready_task_count);

#define READY_COUNT_INDEX "task_states_ready_count_idx"

/*
 * WAITING_SQL
 *		The ready tasks of agent type $1 in workflows that are not running
 *		(pending or paused), of every owner if $2, else of owner $3 only
 *		(the policy of task_states, applied here because the statement
 *		runs as the catalog's owner).  It starts from those workflows
 *		(workflow_states_waiting_idx), few or none as a rule, and looks at
 *		each one's ready tasks: the subquery, kept from being pulled up
 *		(OFFSET 0), cannot be joined otherwise.  (Under row-level security
 *		the planner, without the statistics of the enum's operators, began
 *		with the agent type's 100,000 ready tasks.)
 */
#define WAITING_SQL \
	"SELECT pg_catalog.count(*) FROM mycelium.workflow_states w " \
	"CROSS JOIN LATERAL (SELECT 1 FROM mycelium.task_states t " \
	"  WHERE t.workflow_id = w.workflow_id AND t.status = 'ready' " \
	"    AND t.agent_type = $1 AND t.ready_at IS NOT NULL " \
	"    AND ($2 OR t.owner = $3) OFFSET 0) r " \
	"WHERE w.status IN ('pending', 'paused')"

/*
 * RUNNING_SQL
 *		The ready tasks of running workflows, in one query (on Citus), of
 *		agent type $1, of every owner if $2, else of the role named $3
 *		(its name, quoted: mc_citus_role_name).  The query reads every
 *		shard, and Citus may fold a regrole parameter into the number of
 *		the coordinator's OID, which on a worker is another role: the role
 *		is resolved by its name on each worker.
 */
#define RUNNING_SQL \
	"SELECT pg_catalog.count(*) FROM mycelium.task_states t " \
	"JOIN mycelium.workflow_states w ON w.workflow_id = t.workflow_id " \
	"WHERE w.status = 'running' " \
	"  AND t.agent_type = $1 AND t.status = 'ready' AND t.ready_at IS NOT NULL " \
	"  AND ($2 OR t.owner = pg_catalog.to_regrole($3))"

/*
 * count_query
 *		Runs a count of agent type agent_type's tasks of every owner (all)
 *		or of the caller's (as a regrole, or by name where by_name),
 *		kept prepared in *plan from its first use in the session, with the
 *		calling query's snapshot (read-only, so that it counts what the
 *		index's entries were counted under), as the catalog's owner with
 *		search_path pinned (mc_catalog_open) and without JIT; returns it.
 */
static int64
count_query(SPIPlanPtr *plan, const char *sql, text *agent_type, bool all,
			Oid caller, bool by_name)
{
	Oid			argtypes[3] = {TEXTOID, BOOLOID, by_name ? TEXTOID : REGROLEOID};
	McCatalogSession session;
	Datum		values[3];
	bool		isnull;
	int64		n;

	values[0] = PointerGetDatum(agent_type);
	values[1] = BoolGetDatum(all);
	values[2] = by_name ? mc_citus_role_name(caller) : ObjectIdGetDatum(caller);
	mc_catalog_open(&session);
	/* a count of few rows, whatever a plan's cost says: never compiled */
	(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, 3, argtypes);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare a count of ready tasks: %s",
				 SPI_result_code_string(SPI_result));
		*plan = p;
	}
	if (SPI_execute_plan(*plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not count the ready tasks");
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									1, &isnull));
	mc_catalog_close(&session);
	return n;
}

/*
 * sees_every_owner
 *		Whether the caller counts every role's tasks of task_states: it
 *		bypasses row-level security (a superuser, the table's owner, a role
 *		with BYPASSRLS), or the policy task_states_owner lets it see them
 *		all (a member of mycelium_admin, as pg_has_role(..., 'MEMBER')).
 *		Otherwise it sees the tasks whose owner is its current role.
 */
static bool
sees_every_owner(Oid relid, Oid caller)
{
	Oid			admin = get_role_oid(MC_ADMIN_ROLE, true);

	if (check_enable_rls(relid, InvalidOid, false) != RLS_ENABLED)
		return true;
	return OidIsValid(admin) && is_member_of_role(caller, admin);
}

/*
 * mc_ready_task_count
 *		ready_task_count(agent_type): how many tasks of the agent type are
 *		ready (status ready, with a ready_at) in running workflows that the
 *		caller may see: those counted from task_states_ready_count_idx,
 *		less those of pending and paused workflows (few, or none, as a
 *		rule), counted by a query under the same snapshot.  The caller
 *		needs SELECT on task_states, as the query it stands for would
 *		(42501).
 */
Datum
mc_ready_task_count(PG_FUNCTION_ARGS)
{
	text	   *agent_type = PG_GETARG_TEXT_PP(0);
	Oid			caller = GetUserId();
	Oid			nsp = get_namespace_oid("mycelium", false);
	Oid			indexid = get_relname_relid(READY_COUNT_INDEX, nsp);
	Oid			heapid = get_relname_relid("task_states", nsp);
	Relation	index;
	Relation	heap;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData keys[2];
	Buffer		vmbuf = InvalidBuffer;
	ItemPointer tid;
	int			nkeys = 1;
	int64		n = 0;
	bool		all;
	static SPIPlanPtr waiting_plan = NULL;
	static SPIPlanPtr running_plan = NULL;

	if (pg_class_aclcheck(heapid, caller, ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table task_states")));
	all = sees_every_owner(heapid, caller);
	if (!OidIsValid(indexid) || mc_citus_present())
		PG_RETURN_INT64(count_query(&running_plan, RUNNING_SQL, agent_type,
									all, caller, true));

	index = index_open(indexid, AccessShareLock);
	heap = table_open(heapid, AccessShareLock);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_TEXTEQ,
				PointerGetDatum(agent_type));
	keys[0].sk_collation = C_COLLATION_OID;
	if (!all)
		ScanKeyInit(&keys[nkeys++], 2, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(caller));

	slot = table_slot_create(heap, NULL);
	scan = index_beginscan(heap, index, GetActiveSnapshot(), nkeys, 0);
	index_rescan(scan, keys, nkeys, NULL, 0);
	while ((tid = index_getnext_tid(scan, ForwardScanDirection)) != NULL)
	{
		CHECK_FOR_INTERRUPTS();
		/* as an index-only scan: the heap only when the page may hide it */
		if (!VM_ALL_VISIBLE(heap, ItemPointerGetBlockNumber(tid), &vmbuf) &&
			!index_fetch_heap(scan, slot))
			continue;
		n++;
	}
	index_endscan(scan);
	if (BufferIsValid(vmbuf))
		ReleaseBuffer(vmbuf);
	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, AccessShareLock);
	index_close(index, AccessShareLock);
	PG_RETURN_INT64(n - count_query(&waiting_plan, WAITING_SQL, agent_type,
									all, caller, false));
}
