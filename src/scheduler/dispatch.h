/*-------------------------------------------------------------------------
 *
 * dispatch.h
 *		The scheduler's batch planner: which workflows a step works on and
 *		how many tasks it claims from each, for the scheduler's workers and
 *		execute_workflow.  The statements it runs are attempts.c's.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_DISPATCH_H
#define MC_DISPATCH_H

#include "datatype/timestamp.h"
#include "utils/hsearch.h"

#include "attempts.h"
#include "catalog.h"
#include "execute.h"
#include "shmem.h"
#include "state.h"

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

#endif							/* MC_DISPATCH_H */
