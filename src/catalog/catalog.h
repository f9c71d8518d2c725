/*-------------------------------------------------------------------------
 *
 * catalog.h
 *		Access to mycelium's catalog tables through SPI, as the tables'
 *		owner, with a fixed search_path.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_CATALOG_H
#define MC_CATALOG_H

#include "executor/spi.h"
#include "utils/array.h"

/*
 * State saved by mc_catalog_open and restored by mc_catalog_close.  The
 * caller is the role that called the API (the user the checks are made
 * for); the statements themselves run as the catalog owner.
 */
typedef struct McCatalogSession
{
	Oid			caller;
	bool		caller_is_admin;
	Oid			saved_userid;
	int			saved_sec_context;
	int			guc_nestlevel;
	bool		citus_block;	/* mc_citus_catalog_open began a block */
} McCatalogSession;

/*
 * SQL: a time ts plus secs seconds (a float8 expression), or plus the
 * interval iv.  On plain PostgreSQL these are ts + make_interval(secs =>
 * secs) and ts + iv.  On Citus, which refuses a stable function (adding an
 * interval to a timestamptz is one) with a column among its arguments or
 * inside a CASE in an UPDATE, catalog.c rewrites them, by the markers in
 * the comments, to the same sum in seconds since 1970 made a time again by
 * to_timestamp(), all immutable (an interval's days count 24 hours there).
 */
#define MC_SQL_PLUS_SECONDS(ts, secs) \
	"(/*mc:ts*/" ts " + pg_catalog.make_interval(secs => /*mc:secs*/" secs "/*mc:end-secs*/))"
#define MC_SQL_PLUS_INTERVAL(ts, iv) \
	"(/*mc:ts*/" ts " + /*mc:iv*/" iv "/*mc:end-iv*/)"

/* the result of a statement, kept while another one runs */
typedef struct McCatalogResult
{
	SPITupleTable *tuptable;
	uint64		processed;
} McCatalogResult;

/* cached, prepared statements; one slot per statement in the extension */
typedef enum McPlanId
{
	MC_PLAN_EXECUTOR_GET,
	MC_PLAN_EXECUTOR_UPSERT,
	MC_PLAN_EXECUTOR_DELETE,
	MC_PLAN_WORKFLOW_INSERT,
	MC_PLAN_AGENT_TYPES_MISSING,
	MC_PLAN_HISTORY_INSERT,
	MC_PLAN_WORKFLOW_LOCK,
	MC_PLAN_WORKFLOW_JSON,
	MC_PLAN_WORKFLOW_SAVE,
	MC_PLAN_WORKFLOW_SAVE_COUNTERS,
	MC_PLAN_TASK_GET,
	MC_PLAN_TASK_SET,
	MC_PLAN_RELEASE_DEPENDENTS,
	MC_PLAN_SKIP_DESCENDANTS,
	MC_PLAN_FAIL_OPEN_TASKS,
	MC_PLAN_STILL_RUNNING,
	MC_PLAN_ROLLBACK_TASKS,
	MC_PLAN_ROLLBACK_WORKFLOW_STATE,
	MC_PLAN_COUNT_TASKS,
	MC_PLAN_LOCK_BATCH,
	MC_PLAN_CTX_DEPENDENCIES,
	MC_PLAN_CTX_WORKFLOWS,
	MC_PLAN_CTX_HANDOFFS,
	MC_PLAN_TASK_EXISTS,
	MC_PLAN_TASK_RETRY,
	MC_PLAN_CLAIM,
	MC_PLAN_CLAIM_AGENT,
	MC_PLAN_CLAIM_LIMITED,
	MC_PLAN_CLAIM_AGENT_LIMITED,
	MC_PLAN_CLAIM_ONE,
	MC_PLAN_CLAIM_FIRST_FREE,
	MC_PLAN_AGENT_TASK_ONE,
	MC_PLAN_RECORD_SAVED,
	MC_PLAN_RECORD_SAVED_LEAVES,
	MC_PLAN_LIMITS_LOCK,
	MC_PLAN_LIMITS_LOOK,
	MC_PLAN_LIMITS_RUNNING,
	MC_PLAN_LIMITS_SET,
	MC_PLAN_LIMITS_EXECUTOR,
	MC_PLAN_LIMITS_HELD_BACK,
	MC_PLAN_LIMITED_READY,
	MC_PLAN_LIMITS_NEXT_TOKEN,
	MC_PLAN_CANDIDATES_WITH_WORK,
	MC_PLAN_WORKFLOWS_LOCK,
	MC_PLAN_WORKFLOWS_TRY_LOCK,
	MC_PLAN_FINISH_TASKS,
	MC_PLAN_COMPLETE_ROWS,
	MC_PLAN_RECORD_COMPLETED,
	MC_PLAN_RELEASE_HELD,
	MC_PLAN_RECOVER_ORPHANS,
	MC_PLAN_ATTEMPT_POLICY,
	MC_PLAN_DUE_RETRIES,
	MC_PLAN_RESCAN,
	MC_PLAN_NEXT_RETRY,
	MC_PLAN_WORKFLOW_STATUS,
	MC_PLAN_WORKFLOW_RESULT,
	MC_PLAN_FAILED_TASKS,
	MC_PLAN_INLINE_NEXT_RETRY,
	MC_PLAN_EXPIRED_LEASES,
	MC_PLAN_DUE_EXTERNAL,
	MC_PLAN_READY_EXTERNAL,
	MC_PLAN_CLAIM_CANDIDATES,
	MC_PLAN_AGENT_TASK,
	MC_PLAN_HEARTBEAT,
	MC_PLAN_EXECUTOR_KIND,
	MC_PLAN_WORKFLOW_OWNER,
	MC_PLAN_HANDOFF_INSERT,
	MC_PLAN_GROW_COUNT,
	MC_PLAN_GROW_EXISTING,
	MC_PLAN_GROW_LOCK_DEPS,
	MC_PLAN_GROW_DEPENDENTS,
	MC_PLAN_GROW_HISTORY,
	MC_PLAN_TEMPLATE_INSERT,
	MC_PLAN_TEMPLATE_GET,
	MC_PLAN_TEMPLATE_DELETE,
	MC_PLAN_TEMPLATE_SCHEDULES,
	MC_PLAN_SCHEDULE_INSERT,
	MC_PLAN_SCHEDULE_LOCK,
	MC_PLAN_SCHEDULE_DELETE,
	MC_PLAN_SCHEDULE_SET_JOB,
	MC_PLAN_SCHEDULE_LAST_STATUS,
	MC_PLAN_SCHEDULE_RAN,
	MC_PLAN_SCHEDULE_SKIPPED,
	MC_PLAN_GRAPH_WORKFLOW,
	MC_PLAN_GRAPH_TASKS,
	MC_PLAN_GRAPH_RUNS,
	/* workflow ids, deletion and retention */
	MC_PLAN_WORKFLOW_EXISTING,
	MC_PLAN_WORKFLOW_DELETE,
	MC_PLAN_PURGE_BATCH,
	/* custom events */
	MC_PLAN_EVENT_HOLDER,
	MC_PLAN_EVENT_INSERT,
	/* the JSON Schema registry */
	MC_PLAN_SCHEMA_REGISTER,
	MC_PLAN_SCHEMA_UNSHARE,
	MC_PLAN_SCHEMA_UNREGISTER,
	/* delayed starts */
	MC_PLAN_WORKFLOW_START_AT,
	MC_PLAN_DUE_STARTS,
	/* signal tasks */
	MC_PLAN_SIGNAL_TASKS,
	MC_PLAN_SIGNAL_DUE_TASKS,
	MC_PLAN_SIGNAL_INSERT,
	MC_PLAN_SIGNAL_KEPT_COUNT,
	MC_PLAN_SIGNAL_KEPT_OLDEST,
	MC_PLAN_SIGNAL_MARK_DELIVERED,
	MC_PLAN_SIGNAL_ARM,
	MC_PLAN_SIGNAL_WORKFLOWS,
	MC_PLAN_SIGNAL_TASK_KIND,
	/* priorities */
	MC_PLAN_PRIORITY_WORKFLOW,
	MC_PLAN_PRIORITY_TASKS,
	/* on Citus: one workflow's row at a time (src/catalog/citus.c) */
	MC_PLAN_CITUS_WORKFLOW_TRY_LOCK,
	MC_PLAN_CITUS_DUE_START_IDS,
	MC_PLAN_CITUS_DUE_START_LOCK,
	MC_PLAN_CITUS_WORKFLOW_SAVE,
	MC_PLAN_CITUS_CANDIDATES_WITH_WORK,
	/* on Citus: the attempts' statements per workflow (src/catalog/citus_attempts.c) */
	MC_PLAN_CITUS_CLAIM,
	MC_PLAN_CITUS_CLAIM_LIMITED,
	MC_PLAN_CITUS_CLAIM_AGENT,
	MC_PLAN_CITUS_CLAIM_AGENT_LIMITED,
	MC_PLAN_CITUS_CLAIM_HISTORY,
	MC_PLAN_CITUS_CLAIM_DEBIT,
	MC_PLAN_CITUS_EXECUTORS,
	MC_PLAN_CITUS_COMPLETE_ROWS,
	MC_PLAN_CITUS_COMPLETED_HISTORY,
	MC_PLAN_CITUS_RELEASE_DEPENDENTS,
	MC_PLAN_CITUS_RELEASE_HELD,
	MC_PLAN_CITUS_LOCK_TASKS,
	MC_PLAN_CITUS_HOLD_TASKS,
	/* on Citus: the state manager's statements (src/catalog/citus_state.c) */
	MC_PLAN_CITUS_SKIP_DESCENDANTS,
	MC_PLAN_CITUS_END_OPEN_TASKS,
	MC_PLAN_CITUS_ENDED_HISTORY,
	MC_PLAN_CITUS_ROLLBACK_TASKS,
	MC_PLAN_CITUS_ROLLBACK_HISTORY,
	/* on Citus: the ctx's reads, of the keys' shards only (src/catalog/ctx.c) */
	MC_PLAN_CTX_DEPENDENCIES_CITUS,
	MC_PLAN_CTX_WORKFLOWS_CITUS,
	MC_PLAN_CTX_HANDOFFS_CITUS,
	/* on Citus: purge_workflows (src/api/api_retention.c) */
	MC_PLAN_CITUS_PURGE_FIND,
	MC_PLAN_CITUS_PURGE_ONE,
	MC_PLAN_CITUS_CLAIM_CANDIDATES,
	/* on Citus: agent-type limits (src/scheduler/agent_limits.c) */
	MC_PLAN_CITUS_LIMITS_RUNNING,
	/* ready since (agent_type_stats) */
	MC_PLAN_READY_SINCE,
	MC_PLAN_READY_SINCE_START,
	MC_NUM_PLANS
} McPlanId;

extern void mc_catalog_open(McCatalogSession *session);
extern void mc_catalog_close(McCatalogSession *session);
extern SPIPlanPtr mc_catalog_plan(McPlanId id, const char *sql,
								  int nargs, const Oid *argtypes);
extern uint64 mc_catalog_run(McPlanId id, const char *sql, int nargs,
							 const Oid *argtypes, Datum *values,
							 const char *nulls, long count);
extern uint64 mc_catalog_run_scan(McPlanId id, const char *sql, int nargs,
								  const Oid *argtypes, Datum *values,
								  const char *nulls, long count);
extern uint64 mc_catalog_run_set(McPlanId id, const char *sql, int nargs,
								  const Oid *argtypes, Datum *values,
								  const char *nulls, long count);
/* the column of a statement's result that has only one */
#define MC_ONLY_COLUMN 1

extern Datum mc_catalog_value(uint64 row, int col, bool *isnull);
extern void mc_catalog_result_keep(McCatalogResult *result);
extern void mc_catalog_result_restore(McCatalogResult *result);
extern char *mc_catalog_text(uint64 row, int col);
extern uint64 mc_catalog_count_true(uint64 rows);
extern Datum mc_catalog_array(Datum *elems, int n, Oid elemtype);
extern int32 *mc_catalog_int4_elems(ArrayType *a, int *n);
extern Oid	mc_catalog_relid(const char *relname);
extern bool mc_role_is_admin(Oid roleid);
extern bool mc_executor_may_run_as(Oid registrar, Oid owner);
extern char *mc_role_name(Oid roleid);

#endif							/* MC_CATALOG_H */
