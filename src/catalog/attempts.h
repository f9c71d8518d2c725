/*-------------------------------------------------------------------------
 *
 * attempts.h
 *		The statements that start and end attempts, many at a time: the
 *		claim of ready tasks and the record of their outcomes, shared by
 *		the scheduler's workers (dispatch.c) and external agents
 *		(api_agent.c).  With state.c, the one writer of task status,
 *		history and workflow counters.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_ATTEMPTS_H
#define MC_ATTEMPTS_H

#include "catalog.h"
#include "execute.h"
#include "state.h"

/*
 * SQL conditions on a task row t, shared by the statements that look for
 * work.  MC_FUNCTION_TASK: the task is for a function executor, the
 * scheduler's to run (ready tasks of external agents are the agents' to
 * claim).  MC_TASK_DUE: its retry back-off, if any, has run out.
 */
#define MC_FUNCTION_TASK(t) \
	"EXISTS (SELECT 1 FROM mycelium.executors e " \
	" WHERE e.agent_type = " t ".agent_type AND e.executor IS NOT NULL) "
/*
 * The same test as a scalar subquery: the planner cannot turn it into a
 * join, so a statement that asks whether a workflow has such a task stops
 * at its first one.  As a semi-join, planned on statistics taken after
 * many small workflows, it became a merge join that read and sorted all
 * of a large workflow's ready tasks at every step.
 */
#define MC_FUNCTION_TASK_PROBE(t) \
	"COALESCE((SELECT e.executor IS NOT NULL FROM mycelium.executors e " \
	" WHERE e.agent_type = " t ".agent_type), false) "
#define MC_TASK_DUE(t) \
	"(" t ".run_after IS NULL OR " t ".run_after <= pg_catalog.clock_timestamp()) "

/* the columns of a claimed task, as mc_claim_run returns them */
typedef enum McClaimedColumn
{
	MC_CLAIMED_WORKFLOW_ID = 1,
	MC_CLAIMED_TASK_NO,
	MC_CLAIMED_TASK_ID,
	MC_CLAIMED_ATTEMPT,
	MC_CLAIMED_MAX_ATTEMPTS,
	MC_CLAIMED_INITIAL_DELAY,
	MC_CLAIMED_MAX_DELAY,
	MC_CLAIMED_EXPONENTIAL_BASE,
	MC_CLAIMED_TIMEOUT,
	MC_CLAIMED_ALLOW_FAILURE,
	MC_CLAIMED_EXECUTOR,
	MC_CLAIMED_OWNER,
	MC_CLAIMED_OUTPUT_SCHEMA,
	MC_CLAIMED_AGENT_TYPE,
	MC_CLAIMED_LEASE_UNTIL,
	MC_CLAIMED_REGISTERED_BY,
	MC_CLAIMED_OWN_PRIORITY,
	MC_CLAIMED_CTX				/* an agent's claim: mc_ctx_from_row's
								 * columns from here */
} McClaimedColumn;

/* the columns of a released dependent, as mc_record_* return them */
typedef enum McReleasedColumn
{
	MC_RELEASED_WORKFLOW_ID = 1,
	MC_RELEASED_TASK_NO,
	MC_RELEASED_READY,			/* ready now */
	MC_RELEASED_EXTERNAL_TYPE,	/* its agent type if agents claim it */
	MC_RELEASED_HELD			/* held for the step to claim */
} McReleasedColumn;

extern uint64 mc_claim_run(McCatalogSession *session, int n, Datum *ids,
						   Datum *limits, Datum *afters, Datum *bases,
						   Datum *prios, Datum *hfirsts, Datum *hcounts,
						   Datum *held, int nheld, int cap,
						   const char *worker_id, const char *agent_type,
						   Interval *lease, bool maybe_limited);
extern uint64 mc_claim_one(McCatalogSession *session, McWorkflow *wf,
						   const char *worker_id, const char *agent_type,
						   Interval *lease);
extern uint64 mc_record_completions(McCatalogSession *session, int n,
									Datum *ids, Datum *nos, Datum *results,
									Datum *versions, const char *event,
									McWorkflow *save, bool leaves);
extern void mc_complete_rows_early(McCatalogSession *session,
								   McRunTask *finished, int n, bool *set,
								   ArrayType **dependents);
extern uint64 mc_record_completed_batch(McCatalogSession *session, int n,
										Datum *ids, Datum *nos,
										Datum *attempts, Datum *results,
										Datum *owners, Datum *versions,
										Datum *ms, int nedges,
										Datum *edge_ids, Datum *edge_nos,
										int hold_each, int hold_total);
extern void mc_release_held_tasks(int n, Datum *ids, Datum *nos);
extern bool mc_record_failed_attempt(McCatalogSession *session, McWorkflow *wf,
									 McRunTask *rt);
extern McTaskStatus mc_fail_attempt_as(McCatalogSession *session,
									   McWorkflow *wf, McTask *task,
									   char *error, const char *error_type,
									   McOutcome outcome, bool timed_out);
extern McTaskStatus mc_fail_attempt(McCatalogSession *session, McWorkflow *wf,
									McTask *task, char *error,
									const char *error_type);

#endif							/* MC_ATTEMPTS_H */
