/*-------------------------------------------------------------------------
 *
 * dispatch.h
 *		Claiming ready tasks and recording what their attempts did, in
 *		batches, for the scheduler's workers and for execute_workflow.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_DISPATCH_H
#define MC_DISPATCH_H

#include "datatype/timestamp.h"
#include "utils/hsearch.h"

#include "catalog.h"
#include "execute.h"
#include "shmem.h"
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
#define MC_TASK_DUE(t) \
	"(" t ".run_after IS NULL OR " t ".run_after <= pg_catalog.clock_timestamp()) "

/*
 * The ctx an executor or agent gets for an attempt of task row t (SPEC 2):
 * MC_CTX is the jsonb, over the lateral joins MC_CTX_JOINS adds to the
 * statement's FROM: the workflow's context and variables (ws), the
 * dependencies' results (p) and the handoff messages to the task's agent
 * (hs).  t's attempt column must be the attempt's number.
 */
#define MC_CTX(t) \
	"pg_catalog.jsonb_build_object(" \
	"  'workflow_id', " t ".workflow_id, 'attempt', " t ".attempt," \
	"  'workflow_context', ws.context, 'variables', ws.variables," \
	"  'task', pg_catalog.jsonb_build_object(" \
	"    'task_id', " t ".task_id, 'agent_id', " t ".agent_id, 'agent_type', " t ".agent_type," \
	"    'dependencies', COALESCE(p.ids, '[]')," \
	"    'retry_policy', pg_catalog.jsonb_build_object(" \
	"      'max_attempts', " t ".max_attempts, 'initial_delay', " t ".initial_delay," \
	"      'max_delay', " t ".max_delay, 'exponential_base', " t ".exponential_base)," \
	"    'timeout', " t ".timeout, 'allow_failure', " t ".allow_failure," \
	"    'input', " t ".input, 'metadata', COALESCE(" t ".metadata, '{}'))," \
	"  'previous_results', COALESCE(p.results, '[]')," \
	"  'handoffs', COALESCE(hs.messages, '[]')) "
#define MC_CTX_JOINS(t) \
	"CROSS JOIN LATERAL (" \
	"  SELECT s.context, s.variables FROM mycelium.workflow_states s " \
	"  WHERE s.workflow_id = " t ".workflow_id OFFSET 0) ws " \
	"LEFT JOIN LATERAL (" \
	"  SELECT pg_catalog.jsonb_agg(d.task_id ORDER BY d.task_no) AS ids, " \
	"    pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(" \
	"      'task_id', d.task_id, 'agent_id', d.agent_id, 'agent_type', d.agent_type," \
	"      'status', d.status, 'result', d.result, 'error', d.error) " \
	"      ORDER BY d.task_no) AS results " \
	"  FROM mycelium.task_states d " \
	"  WHERE " t ".dependencies IS NOT NULL AND d.workflow_id = " t ".workflow_id " \
	"    AND d.task_no = ANY (" t ".dependencies)) p ON true " \
	"LEFT JOIN LATERAL (" \
	"  SELECT pg_catalog.jsonb_agg(m.message ORDER BY m.seq) AS messages " \
	"  FROM mycelium.handoffs m WHERE m.workflow_id = " t ".workflow_id " \
	"    AND m.target_agent_id = " t ".agent_id AND m.target_agent_type = " t ".agent_type) hs ON true "

typedef struct McBatch
{
	MemoryContext cxt;			/* the batch and its task array */
	MemoryContext step_cxt[2];	/* what each step allocates, alternately */
	int			cur;			/* the step context in use */
	const char *worker_id;		/* recorded in the rows of claimed tasks */
	int			capacity;		/* most tasks claimed at once */
	int			ntasks;
	McRunTask  *tasks;
	List	   *requeue;		/* workflows to push when this transaction commits */
	HTAB	   *cursors;		/* workflow id -> highest task number claimed */
	bool		retry_scheduled;	/* an attempt will be retried after a back-off */
	bool		share_work;		/* other workers are idle: claim one task a workflow */
	bool		shared;			/* ... and the step left work to them */
} McBatch;

extern McBatch *mc_batch_create(MemoryContext parent, const char *worker_id,
								int capacity);
extern void mc_dispatch_step(McCatalogSession *session, McBatch *batch,
							 McQueueEntry *candidates, int ncandidates);
extern MemoryContext mc_batch_context(McBatch *batch);
extern void mc_dispatch_lock_batch(McBatch *batch);
extern void mc_recover_orphans(McCatalogSession *session, const char *worker_id);
extern void mc_expire_leases(McCatalogSession *session, TimestampTz now);
extern bool mc_record_failed_attempt(McCatalogSession *session, McWorkflow *wf,
									 McRunTask *rt);
extern McTaskStatus mc_fail_attempt(McCatalogSession *session, McWorkflow *wf,
									McTask *task, char *error);
extern uint64 mc_record_completions(McCatalogSession *session, int n,
									Datum *ids, Datum *nos, Datum *results,
									Datum *versions, const char *event,
									bool rows_set);
extern uint64 mc_claim_run(McCatalogSession *session, int n, Datum *ids,
						   Datum *limits, Datum *afters, Datum *bases,
						   int cap, const char *worker_id,
						   const char *agent_type, Interval *lease);

#endif							/* MC_DISPATCH_H */
