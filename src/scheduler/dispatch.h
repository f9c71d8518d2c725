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

/*
 * Claimed tasks expected to start, or still waiting to start, later than
 * this many times mycelium.batch_time after their batch began running are
 * handed back for other workers (hand_back_behind_long in dispatch.c,
 * run_attempts in worker.c).
 */
#define MC_HAND_BACK_BATCH_TIMES 2

typedef struct McBatch
{
	MemoryContext cxt;			/* the batch and its task array */
	MemoryContext step_cxt[2];	/* what each step allocates, alternately */
	int			cur;			/* the step context in use */
	const char *worker_id;		/* recorded in the rows of claimed tasks */
	int			capacity;		/* most tasks claimed at once */
	int			allocated;		/* room in tasks, at least capacity */
	int64		attempt_us;		/* mean length of the last run's attempts, us */
	int			ntasks;
	McRunTask  *tasks;
	List	   *requeue;		/* queue entries to push when this transaction commits */
	HTAB	   *cursors;		/* workflow id -> highest task number claimed */
	bool		retry_scheduled;	/* an attempt will be retried after a back-off */
	bool		share_work;		/* other workers are idle: claim one task a workflow */
	bool		shared;			/* ... and the step left work to them */
	bool		owner_capped;	/* an owner's share of the pool stopped a claim */
	bool		progressed;		/* the step recorded outcomes or claimed tasks */
} McBatch;

extern McBatch *mc_batch_create(MemoryContext parent, const char *worker_id,
								int capacity);
extern void mc_batch_resize(McBatch *batch, int capacity);
extern void mc_dispatch_step(McCatalogSession *session, McBatch *batch,
							 McQueueEntry *candidates, int ncandidates);
extern MemoryContext mc_batch_context(McBatch *batch);
extern void mc_dispatch_lock_batch(McBatch *batch);
extern void mc_recover_orphans(McCatalogSession *session, Datum *live,
							   int nlive, bool all);
extern void mc_expire_leases(McCatalogSession *session, TimestampTz now);
extern bool mc_record_failed_attempt(McCatalogSession *session, McWorkflow *wf,
									 McRunTask *rt);
extern McTaskStatus mc_fail_attempt(McCatalogSession *session, McWorkflow *wf,
									McTask *task, char *error,
									const char *error_type);
extern uint64 mc_record_completions(McCatalogSession *session, int n,
									Datum *ids, Datum *nos, Datum *results,
									Datum *versions, const char *event);
extern uint64 mc_claim_run(McCatalogSession *session, int n, Datum *ids,
						   Datum *limits, Datum *afters, Datum *bases,
						   Datum *prios, Datum *hfirsts, Datum *hcounts,
						   Datum *held, int nheld, int cap,
						   const char *worker_id, const char *agent_type,
						   Interval *lease, bool maybe_limited);

#endif							/* MC_DISPATCH_H */
