/*-------------------------------------------------------------------------
 *
 * dispatch.c
 *		Claiming ready tasks and recording the outcome of their attempts.
 *
 * The unit of work is a batch.  mc_dispatch_step, run in one transaction,
 * records the outcome of every attempt of the batch that has run, then
 * claims new tasks into the batch: the dependents those outcomes released
 * first, then ready tasks of the workflows it was handed.  The transaction
 * commits; the claimed tasks (now "running", their attempt counted, so a
 * crash while they run counts as a failed attempt) run; the next step
 * records them and claims again.  One commit per batch carries both the
 * results of one round and the claims of the next, and a task whose last
 * dependency just completed is claimed in the same commit.  Claims that
 * would start late in this worker, behind tasks known to be long, are
 * handed back in the step that made them (hand_back_behind_long).
 *
 * Locking.  A workflow's row is locked for every change to it.  A step
 * locks the rows of all the workflows it touches in workflow_id order, so
 * two workers never wait on each other in a cycle; a workflow it only
 * wants to claim from is locked with SKIP LOCKED and tried again later.
 * A workflow's row is updated once per step, with the version advanced by
 * the number of changes.  The one other kind of lock a worker holds is on
 * the rows of tasks whose attempt completed (execute.c); other sessions
 * never wait for those (they use SKIP LOCKED or report the task busy).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "agent.h"
#include "attempts.h"
#include "citus.h"
#include "citus_attempts.h"
#include "ctx.h"
#include "dispatch.h"
#include "estimate.h"
#include "mycelium.h"
#include "mycelium_errcodes.h"
#include "retry.h"
#include "observe.h"
#include "priority.h"
#include "state.h"
#include "watchdog.h"

/* one workflow a step works on */
typedef struct StepWorkflow
{
	pg_uuid_t	id;
	Oid			start_by;		/* start it if pending (InvalidOid: no) */
	int64		rank;			/* its rank in the queue (0: not taken from it) */
	bool		candidate;		/* claim from it */
	int			first;			/* its finished tasks: finished[first..] */
	int			nfinished;
	/* set as the step goes */
	bool		locked;			/* its row is locked and read into wf */
	McWorkflow	wf;
	int			released;		/* tasks this step made ready */
	int32		lowest_ready;	/* the lowest of them made ready */
	int32	   *held;			/* those held to be claimed, in task order */
	bool	   *held_claimed;	/* ... and whether claim_all claimed each */
	int			nheld;
	int32		lowest_unclaimed;	/* the lowest held one left unclaimed */
	bool		may_wrap;		/* a ready task may lie below its cursor */
	int32		limit;			/* most tasks to claim from it in this step */
	int32		ask;			/* what the next claim_all asks of it */
	int32		after;			/* ... among the tasks numbered above this */
	int			claimed;		/* tasks claimed from it */
	int32		last_claimed;	/* highest task number claimed */
	bool		cut;			/* the step's cap stopped its claims: may have more */
	int			handed_back;	/* claims handed back at once (hand_back_behind_long) */
	bool		idle;			/* a candidate with nothing to run: not locked */
	bool		shared_one;		/* claimed one only, leaving the rest to others */
	bool		more_ready;		/* ... and it has other ready tasks left */
	int			mine;			/* its tasks the batch held before the step */
	int			others_used;	/* its running slots but this worker's */
} StepWorkflow;

/* the columns of with_ready_tasks' statements: a workflow with work */
enum
{
	WITH_WORK_ID = 1
};

/* the columns of mc_dispatch_lock_batch's statement */
enum
{
	LOCKED_N = 1,				/* the task's place in the arrays, from 1 */
	LOCKED_CTX					/* mc_ctx_from_row's columns from here */
};

static void with_ready_tasks(StepWorkflow *sws, int nsw, bool *ask);

/* most workflows a batch keeps a claim cursor for (see claim_cursor_get) */
#define MC_CLAIM_CURSORS 10000

/* highest task number a batch claimed in a workflow (see claim_all) */
typedef struct ClaimCursor
{
	pg_uuid_t	id;
	int32		last;
} ClaimCursor;

/*
 * mc_batch_create
 *		A new, empty batch.  A step allocates in one of two contexts and
 *		frees the other: what a step claims lives until the step after the
 *		one that records it.  Attempts run in the current step context
 *		(mc_batch_context).
 */
McBatch *
mc_batch_create(MemoryContext parent, const char *worker_id, int capacity)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "mycelium batch",
											  ALLOCSET_DEFAULT_SIZES);
	McBatch    *batch = MemoryContextAllocZero(cxt, sizeof(McBatch));

	batch->cxt = cxt;
	batch->step_cxt[0] = AllocSetContextCreate(cxt, "mycelium batch step",
											   ALLOCSET_DEFAULT_SIZES);
	batch->step_cxt[1] = AllocSetContextCreate(cxt, "mycelium batch step",
											   ALLOCSET_DEFAULT_SIZES);
	batch->worker_id = MemoryContextStrdup(cxt, worker_id);
	batch->capacity = capacity;
	batch->allocated = capacity;
	/* until it has run some, a batch expects its attempts to be long */
	batch->attempt_us = (int64) mc_batch_time_ms * 1000;
	batch->tasks = MemoryContextAllocZero(cxt, sizeof(McRunTask) * capacity);
	batch->cursors = NULL;
	return batch;
}

/*
 * mc_batch_resize
 *		Makes capacity the most tasks the batch claims at once (a reload
 *		changed mycelium.batch_size).  Tasks it holds beyond a smaller
 *		capacity stay and run; it claims no more until it is under it.
 */
void
mc_batch_resize(McBatch *batch, int capacity)
{
	if (capacity > batch->allocated)
	{
		batch->tasks = repalloc(batch->tasks, sizeof(McRunTask) * capacity);
		memset(&batch->tasks[batch->allocated], 0,
			   sizeof(McRunTask) * (capacity - batch->allocated));
		batch->allocated = capacity;
	}
	batch->capacity = capacity;
}

/*
 * claim_room
 *		How many more tasks a step may claim into the batch: as many as it
 *		expects to run in mycelium.batch_time, judging by the mean length
 *		of the attempts it ran last (at least one, at most its capacity),
 *		less those it still holds.  Claimed tasks run one after another in
 *		this worker, so claiming ahead more long tasks than that would keep
 *		them from workers that fall idle meanwhile.
 */
static int
claim_room(McBatch *batch)
{
	int64		budget = (int64) mc_batch_time_ms * 1000;
	int64		fit = batch->capacity;

	if (batch->attempt_us > 0)
		fit = Max(budget / batch->attempt_us, 1);
	return (int) Min(fit, batch->capacity) - batch->ntasks;
}

/*
 * step_workflow_cmp
 *		qsort comparator of StepWorkflow by id.
 */
static int
step_workflow_cmp(const void *a, const void *b)
{
	return mc_uuid_cmp(&((const StepWorkflow *) a)->id, &((const StepWorkflow *) b)->id);
}

/*
 * run_task_cmp
 *		qsort comparator of McRunTask: by workflow, then task number.
 */
static int
run_task_cmp(const void *a, const void *b)
{
	const McRunTask *x = a;
	const McRunTask *y = b;

	return mc_task_key_cmp(&x->workflow_id, x->task_no, &y->workflow_id, y->task_no);
}

/*
 * requeue
 *		Leaves a workflow to be pushed to the dispatch queue after commit,
 *		with the rank it was taken from the queue with (one it ran, at its
 *		priority now), so that it keeps its place among the priorities.
 *		The list lives in the step's context: SPI calls leave their own
 *		context current, and it is gone by the time the list is read.
 */
static void
requeue(McBatch *batch, StepWorkflow *sw)
{
	MemoryContext old = MemoryContextSwitchTo(batch->step_cxt[batch->cur]);
	McQueueEntry *entry = palloc(sizeof(McQueueEntry));

	memcpy(&entry->workflow_id, &sw->id, sizeof(pg_uuid_t));
	entry->start_by = InvalidOid;
	entry->rank = sw->rank != 0 ? sw->rank :
		mc_queue_rank(sw->locked ? sw->wf.priority : 0);
	batch->requeue = lappend(batch->requeue, entry);
	MemoryContextSwitchTo(old);
}

/*
 * batch_held
 *		The workflows the batch holds claimed tasks of (those not run
 *		yet), with how many of each, into held (room for
 *		MC_SLOT_WORKFLOWS, which the claims never exceed: step_record).
 *		Returns how many.
 */
static int
batch_held(McBatch *batch, McHeldWorkflow *held)
{
	int			n = 0;
	int			i;
	int			k;

	for (i = 0; i < batch->ntasks; i++)
	{
		McRunTask  *t = &batch->tasks[i];

		if (t->outcome != MC_OUTCOME_NONE)
			continue;
		for (k = 0; k < n; k++)
		{
			if (mc_uuid_cmp(&held[k].id, &t->workflow_id) == 0)
				break;
		}
		if (k == n)
		{
			if (n == MC_SLOT_WORKFLOWS)
				continue;
			memcpy(&held[n].id, &t->workflow_id, sizeof(pg_uuid_t));
			held[n].owner = t->owner;
			held[n++].ntasks = 0;
		}
		held[k].ntasks++;
	}
	return n;
}

/*
 * held_tasks_of
 *		How many tasks of a workflow held (from batch_held) counts.
 */
static int
held_tasks_of(McHeldWorkflow *held, int nheld, pg_uuid_t *id)
{
	int			k;

	for (k = 0; k < nheld; k++)
	{
		if (mc_uuid_cmp(&held[k].id, id) == 0)
			return held[k].ntasks;
	}
	return 0;
}

/*
 * slot_free_for_another
 *		Whether another worker could run tasks of the step's workflow
 *		beside those now running, under its max_parallel_tasks: a worker's
 *		claimed tasks of a workflow run one after another and take one of
 *		its slots, an external agent's claimed task one (see step_record).
 *		In a session (execute_workflow), every running task takes one.
 */
static bool
slot_free_for_another(StepWorkflow *sw)
{
	McWorkflow *wf = &sw->wf;

	if (mc_worker_slot < 0)
		return wf->tasks_running < wf->max_parallel_tasks;
	return sw->others_used + (sw->mine > 0 || sw->claimed > sw->handed_back ? 1 : 0) <
		wf->max_parallel_tasks;
}

/*
 * find_step_workflow
 *		The step's entry for a workflow id (sws is in id order).
 */
static StepWorkflow *
find_step_workflow(StepWorkflow *sws, int nsw, pg_uuid_t *id)
{
	return bsearch(id, sws, nsw, sizeof(StepWorkflow), mc_uuid_cmp);
}

/*
 * record_completed_all
 *		Records every completed attempt of the step's locked workflows in
 *		one statement (RECORD_SQL; one version each, in task order within a
 *		workflow) whose row mc_complete_rows_early set (set[i], with the row's
 *		dependents[i]), noting in each workflow how many tasks were
 *		released, the lowest of those now ready, and those held for
 *		claim_all (which takes them before any ready task) or else
 *		release_held.
 *
 * A released task that a function executor runs and that has no back-off
 * is held: left 'pending' with no dependency pending, for the step to
 * claim in the same transaction.  Its row is then written once, as
 * claimed, instead of twice, as ready and then as claimed, and the ready
 * version's index entries are not written at all.  No other session ever
 * sees a held task.  Only as many are held as the step may claim, at most
 * hold_each of a workflow (one when the step shares work with idle
 * workers) and hold_total in all: a held task the step does not claim is
 * written twice after all (release_held), and after 1,000 small workflows
 * released their tasks at once, those double writes were an eighth of
 * the workers' time.
 */
static void
record_completed_all(McCatalogSession *session, StepWorkflow *sws, int nsw,
					 McRunTask *finished, bool *set, ArrayType **dependents,
					 int hold_each, int hold_total)
{
	int			max = 0;
	Datum	   *ids;
	Datum	   *nos;
	Datum	   *results;
	Datum	   *versions;
	Datum	   *attempts;
	Datum	   *owners;
	Datum	   *ms;
	Datum	   *edge_ids = NULL;
	Datum	   *edge_nos = NULL;
	int			nedges = 0;
	int			edges_size = 0;
	int			n = 0;
	int			i;
	int			k;
	uint64		rows;
	uint64		r;
	int32	   *held;
	bool	   *held_claimed;
	int			nheld = 0;

	for (i = 0; i < nsw; i++)
		max += sws[i].nfinished;
	if (max == 0)
		return;
	ids = palloc(sizeof(Datum) * max);
	nos = palloc(sizeof(Datum) * max);
	results = palloc(sizeof(Datum) * max);
	versions = palloc(sizeof(Datum) * max);
	attempts = palloc(sizeof(Datum) * max);
	owners = palloc(sizeof(Datum) * max);
	ms = palloc(sizeof(Datum) * max);
	for (i = 0; i < nsw; i++)
	{
		StepWorkflow *sw = &sws[i];
		int			done = 0;

		if (!sw->locked)
			continue;
		for (k = 0; k < sw->nfinished; k++)
		{
			int			f = sw->first + k;
			McRunTask  *t = &finished[f];
			ArrayType  *deps = dependents[f];

			if (t->outcome != MC_OUTCOME_COMPLETED || !set[f])
				continue;
			ids[n] = UUIDPGetDatum(&sw->id);
			nos[n] = Int32GetDatum(t->task_no);
			results[n] = JsonbPGetDatum(t->result);
			versions[n] = Int64GetDatum(sw->wf.version + done);
			attempts[n] = Int32GetDatum(t->attempt);
			owners[n] = ObjectIdGetDatum(t->owner);
			ms[n] = Float8GetDatum(t->execution_ms);
			n++;
			done++;
			if (deps != NULL)
			{
				int			ndeps;
				int32	   *elems = mc_catalog_int4_elems(deps, &ndeps);
				int			d;

				if (nedges + ndeps > edges_size)
				{
					edges_size = Max(edges_size * 2, nedges + ndeps);
					edge_ids = edge_ids == NULL ? palloc(sizeof(Datum) * edges_size)
						: repalloc(edge_ids, sizeof(Datum) * edges_size);
					edge_nos = edge_nos == NULL ? palloc(sizeof(Datum) * edges_size)
						: repalloc(edge_nos, sizeof(Datum) * edges_size);
				}
				for (d = 0; d < ndeps; d++)
				{
					edge_ids[nedges] = UUIDPGetDatum(&sw->id);
					edge_nos[nedges++] = Int32GetDatum(elems[d]);
				}
			}
		}
		if (done > 0)
			mc_workflow_count_completed(&sw->wf, done);
	}
	if (n == 0)
		return;

	rows = mc_record_completed_batch(session, n, ids, nos, attempts, results,
									 owners, versions, ms, nedges, edge_ids,
									 edge_nos, hold_each, hold_total);
	held = palloc(sizeof(int32) * Max(rows, 1));
	held_claimed = palloc0(sizeof(bool) * Max(rows, 1));
	for (r = 0; r < rows; r++)
	{
		bool		isnull;
		StepWorkflow *sw;
		int32		task_no = DatumGetInt32(mc_catalog_value(r, MC_RELEASED_TASK_NO, &isnull));
		bool		is_held = DatumGetBool(mc_catalog_value(r, MC_RELEASED_HELD, &isnull));

		if (!is_held && !DatumGetBool(mc_catalog_value(r, MC_RELEASED_READY, &isnull)))
			continue;
		sw = find_step_workflow(sws, nsw,
								DatumGetUUIDP(mc_catalog_value(r, MC_RELEASED_WORKFLOW_ID, &isnull)));
		Assert(sw != NULL);
		sw->released++;
		if (is_held)
		{
			/* rows come in task order within a workflow */
			if (sw->nheld++ == 0)
			{
				sw->held = &held[nheld];
				sw->held_claimed = &held_claimed[nheld];
			}
			held[nheld++] = task_no;
			continue;
		}
		mc_notify_ready_row(r, MC_RELEASED_EXTERNAL_TYPE);
		sw->lowest_ready = Min(sw->lowest_ready, task_no);
	}
}

/*
 * claim_held
 *		Notes that the step claimed task task_no of sw, if it is one of
 *		the tasks the step held in sw, and says whether it is.
 */
static bool
claim_held(StepWorkflow *sw, int32 task_no)
{
	int			lo = 0;
	int			hi = sw->nheld - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (sw->held[mid] == task_no)
		{
			sw->held_claimed[mid] = true;
			return true;
		}
		if (sw->held[mid] < task_no)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

/*
 * release_held
 *		Makes ready the tasks the step held and did not claim (its limits
 *		or room stopped the claims; mc_release_held_tasks), noting the
 *		lowest in each workflow.
 */
static void
release_held(StepWorkflow *sws, int nsw)
{
	Datum	   *ids;
	Datum	   *nos;
	int			max = 0;
	int			n = 0;
	int			i;
	int			k;

	for (i = 0; i < nsw; i++)
	{
		sws[i].lowest_unclaimed = PG_INT32_MAX;
		max += sws[i].nheld;
	}
	if (max == 0)
		return;
	ids = palloc(sizeof(Datum) * max);
	nos = palloc(sizeof(Datum) * max);
	for (i = 0; i < nsw; i++)
	{
		StepWorkflow *sw = &sws[i];

		for (k = 0; k < sw->nheld; k++)
		{
			if (sw->held_claimed[k])
				continue;
			ids[n] = UUIDPGetDatum(&sw->id);
			nos[n++] = Int32GetDatum(sw->held[k]);
			sw->lowest_unclaimed = Min(sw->lowest_unclaimed, sw->held[k]);
		}
	}
	if (n == 0)
		return;
	mc_release_held_tasks(n, ids, nos);
}

/*
 * cut_passed_over
 *		After a claim that reached its cap: of the workflows before the
 *		last one that got some (order[0..last-1]), those that got fewer
 *		than they asked for were passed over for tasks of a lower rank
 *		(priorities, mc_claim_run), or had no more; those with more (a held
 *		task left, or a ready one) are marked cut, to be looked at again,
 *		so that no ready task is left without its workflow queued.
 */
static void
cut_passed_over(StepWorkflow *sws, int nsw, int *order, int *before,
				Datum *limits, int last)
{
	bool	   *ask = palloc0(sizeof(bool) * Max(nsw, 1));
	bool		any = false;
	int			k;
	int			i;

	for (k = 0; k < last; k++)
	{
		StepWorkflow *sw = &sws[order[k]];

		if (sw->claimed - before[k] >= DatumGetInt32(limits[k]))
			continue;
		for (i = 0; i < sw->nheld; i++)
		{
			if (!sw->held_claimed[i])
				break;
		}
		if (i < sw->nheld)
			sw->cut = true;
		else
			any = ask[order[k]] = true;
	}
	if (!any)
		return;
	with_ready_tasks(sws, nsw, ask);
	for (i = 0; i < nsw; i++)
	{
		if (ask[i])
			sws[i].cut = true;
	}
}

/*
 * claim_all
 *		Claims, in one statement, up to sw->ask tasks from every workflow
 *		of the step that asks for some, and at most cap in all, and adds
 *		them to the batch.  With with_held (the step's first claim), the
 *		tasks the step held in a workflow come first; then its ready tasks
 *		numbered above sw->after, in task order.  Returns how many it
 *		claimed.
 *
 * Each workflow asks for as many as its limits allow, not for its share
 * of the batch: most have fewer ready tasks than that (a chain has one).
 * The workflows whose attempts the step recorded come first, so the work
 * a worker has under way goes on; when the cap stops the claims, the
 * workflow it stopped in and those after it are marked cut, to be looked
 * at again.
 */
static int
claim_all(McCatalogSession *session, McBatch *batch, StepWorkflow *sws, int nsw,
		  int cap, bool with_held)
{
	Datum	   *ids = palloc(sizeof(Datum) * Max(nsw, 1));
	Datum	   *limits = palloc(sizeof(Datum) * Max(nsw, 1));
	Datum	   *afters = palloc(sizeof(Datum) * Max(nsw, 1));
	Datum	   *bases = palloc(sizeof(Datum) * Max(nsw, 1));
	Datum	   *prios = palloc(sizeof(Datum) * Max(nsw, 1));
	Datum	   *hfirsts = palloc(sizeof(Datum) * Max(nsw, 1));
	Datum	   *hcounts = palloc(sizeof(Datum) * Max(nsw, 1));
	Datum	   *held = NULL;
	int			nheld = 0;
	int		   *order = palloc(sizeof(int) * Max(nsw, 1));
	int		   *before = palloc(sizeof(int) * Max(nsw, 1));
	int			n = 0;
	int			pass;
	int			i;
	int			k;
	uint64		rows;
	uint64		r;
	MemoryContext old;

	if (cap <= 0)
		return 0;
	if (with_held)
	{
		for (i = 0; i < nsw; i++)
			nheld += sws[i].nheld;
		held = palloc(sizeof(Datum) * Max(nheld, 1));
		nheld = 0;
	}
	for (pass = 0; pass < 2; pass++)
	{
		for (i = 0; i < nsw; i++)
		{
			StepWorkflow *sw = &sws[i];

			if (sw->ask <= 0 || (sw->nfinished > 0) != (pass == 0))
				continue;
			ids[n] = UUIDPGetDatum(&sw->id);
			limits[n] = Int32GetDatum(sw->ask);
			afters[n] = Int32GetDatum(sw->after);
			bases[n] = Int64GetDatum(sw->wf.version);
			prios[n] = Int32GetDatum(sw->wf.priority);
			hfirsts[n] = Int32GetDatum(nheld + 1);
			hcounts[n] = Int32GetDatum(with_held ? sw->nheld : 0);
			for (k = 0; with_held && k < sw->nheld; k++)
				held[nheld++] = Int32GetDatum(sw->held[k]);
			before[n] = sw->claimed;
			order[n++] = i;
		}
	}
	if (n == 0)
		return 0;
	rows = mc_claim_run(session, n, ids, limits, afters, bases, prios, hfirsts,
						hcounts, held, nheld, cap, batch->worker_id, NULL, NULL,
						true);

	/*
	 * The tasks live in the step's context (SPI leaves its own current).
	 * Rows and sws are both in workflow id order.
	 */
	old = MemoryContextSwitchTo(batch->step_cxt[batch->cur]);
	k = 0;
	for (r = 0; r < rows; r++)
	{
		McRunTask  *t = &batch->tasks[batch->ntasks++];
		bool		isnull;
		pg_uuid_t  *id = DatumGetUUIDP(mc_catalog_value(r, MC_CLAIMED_WORKFLOW_ID, &isnull));
		Datum		d;
		StepWorkflow *sw;
		bool		own_priority;

		while (mc_uuid_cmp(&sws[k].id, id) != 0)
			k++;
		sw = &sws[k];

		memset(t, 0, sizeof(McRunTask));
		memcpy(&t->workflow_id, id, sizeof(pg_uuid_t));
		t->task_no = DatumGetInt32(mc_catalog_value(r, MC_CLAIMED_TASK_NO, &isnull));
		t->task_id = pstrdup(mc_catalog_text(r, MC_CLAIMED_TASK_ID));	/* outlives the transaction */
		t->attempt = DatumGetInt32(mc_catalog_value(r, MC_CLAIMED_ATTEMPT, &isnull));
		t->max_attempts = DatumGetInt32(mc_catalog_value(r, MC_CLAIMED_MAX_ATTEMPTS, &isnull));
		t->initial_delay = DatumGetFloat8(mc_catalog_value(r, MC_CLAIMED_INITIAL_DELAY, &isnull));
		t->max_delay = DatumGetFloat8(mc_catalog_value(r, MC_CLAIMED_MAX_DELAY, &isnull));
		t->exponential_base = DatumGetFloat8(mc_catalog_value(r, MC_CLAIMED_EXPONENTIAL_BASE, &isnull));
		t->timeout = DatumGetFloat8(mc_catalog_value(r, MC_CLAIMED_TIMEOUT, &isnull));
		t->allow_failure = DatumGetBool(mc_catalog_value(r, MC_CLAIMED_ALLOW_FAILURE, &isnull));
		t->executor = DatumGetObjectId(mc_catalog_value(r, MC_CLAIMED_EXECUTOR, &isnull));
		t->owner = DatumGetObjectId(mc_catalog_value(r, MC_CLAIMED_OWNER, &isnull));
		t->ctx = NULL;			/* built by mc_dispatch_lock_batch */
		d = mc_catalog_value(r, MC_CLAIMED_OUTPUT_SCHEMA, &isnull);
		t->output_schema = isnull ? NULL : DatumGetJsonbPCopy(d);
		t->agent_type = pstrdup(mc_catalog_text(r, MC_CLAIMED_AGENT_TYPE));
		t->registered_by = DatumGetObjectId(mc_catalog_value(r, MC_CLAIMED_REGISTERED_BY, &isnull));
		own_priority = DatumGetBool(mc_catalog_value(r, MC_CLAIMED_OWN_PRIORITY, &isnull));
		t->outcome = MC_OUTCOME_NONE;
		t->execution_ms = -1;

		sw->claimed++;

		/*
		 * The cursor follows the tasks taken in task order; those with a
		 * priority of their own come through their own index, from
		 * anywhere in the workflow, and leave it where it is.
		 */
		if (!claim_held(sw, t->task_no) && !own_priority)
			sw->last_claimed = t->task_no;
		mc_workflow_count_started(&sw->wf, 1);
	}
	MemoryContextSwitchTo(old);

	/* the cap was reached: from the last workflow that got some, cut */
	if (rows >= (uint64) cap)
	{
		int			last;

		for (k = n - 1; k > 0 && sws[order[k]].claimed == before[k]; k--)
			;
		last = k;
		for (; k < n; k++)
			sws[order[k]].cut = true;
		cut_passed_over(sws, nsw, order, before, limits, last);
	}
	return (int) rows;
}

/*
 * claim_cursor_get
 *		Where the batch's last claim in a workflow ended (0: the start).
 *
 * Ready tasks are taken in task number order through the partial index of
 * ready tasks.  Entries of tasks that were ready once stay in that index
 * until vacuum, so scanning it from the start every time would cost more
 * and more in a large workflow; the batch remembers where its last claim
 * in each workflow ended and starts there (or below it, at the lowest task
 * the step made ready).  It wraps around to the start only when that finds
 * too few and a ready task may lie below (the workflow came from the
 * queue, or an attempt failed and may be retried at once).  Only
 * workflows the batch claimed from have a cursor, and at most
 * MC_CLAIM_CURSORS of them, so a worker's memory does not grow with the
 * number of active workflows.
 */
static int32
claim_cursor_get(McBatch *batch, pg_uuid_t *id)
{
	ClaimCursor *cursor;

	if (batch->cursors == NULL)
		return 0;
	cursor = hash_search(batch->cursors, id, HASH_FIND, NULL);
	return cursor != NULL ? cursor->last : 0;
}

/*
 * claim_cursor_set
 *		Moves the batch's cursor for a workflow (0 forgets it).  When the
 *		table is full it starts afresh: a forgotten cursor only costs a
 *		scan from the start.
 */
static void
claim_cursor_set(McBatch *batch, pg_uuid_t *id, int32 last)
{
	ClaimCursor *cursor;

	if (last <= 0)
	{
		if (batch->cursors != NULL)
			(void) hash_search(batch->cursors, id, HASH_REMOVE, NULL);
		return;
	}
	if (batch->cursors == NULL ||
		hash_get_num_entries(batch->cursors) >= MC_CLAIM_CURSORS)
	{
		HASHCTL		ctl;

		if (batch->cursors != NULL)
			hash_destroy(batch->cursors);
		ctl.keysize = sizeof(pg_uuid_t);
		ctl.entrysize = sizeof(ClaimCursor);
		ctl.hcxt = batch->cxt;
		batch->cursors = hash_create("mycelium claim cursors", 256, &ctl,
									 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	cursor = hash_search(batch->cursors, id, HASH_ENTER, NULL);
	cursor->last = last;
}

/*
 * start_if_requested
 *		A pending workflow that execute_workflow asked the scheduler to
 *		start is started here, in the scheduler's own transaction.
 */
static void
start_if_requested(McCatalogSession *session, McWorkflow *wf, Oid start_by)
{
	Oid			caller = session->caller;

	if (!OidIsValid(start_by) || wf->status != MC_WF_PENDING)
		return;
	session->caller = start_by;
	mc_workflow_set_status(session, wf, MC_WF_RUNNING, "started");
	session->caller = caller;
	mc_workflow_count_change(wf);
	if (wf->tasks_open == 0)
	{
		mc_workflow_set_status(session, wf, MC_WF_COMPLETED, "completed");
		mc_workflow_count_change(wf);
	}
}

/*
 * step_record
 *		The middle part of a step for one (locked) workflow: record its
 *		failed attempts, start it if asked to, and work out how many tasks
 *		to claim from it: as many as its limits and the batch's room allow.
 */
static void
step_record(McCatalogSession *session, McBatch *batch, StepWorkflow *sw,
			McRunTask *finished, int room, int *nworkflows)
{
	McWorkflow *wf = &sw->wf;
	int			i;

	if (!sw->locked)
	{
		/* busy elsewhere, or gone: a busy one is looked at again later */
		if (sw->nfinished == 0 && !sw->idle)
			requeue(batch, sw);
		return;
	}
	sw->may_wrap = sw->candidate || OidIsValid(sw->start_by);

	/*
	 * Completed attempts are recorded already; failed ones, and those
	 * handed back unstarted, one by one.
	 */
	for (i = 0; i < sw->nfinished; i++)
	{
		McRunTask  *t = &finished[sw->first + i];

		if (t->outcome == MC_OUTCOME_NOT_RUN)
		{
			t->outcome = MC_OUTCOME_FAILED;
			t->error = pstrdup("not started: its workflow was ending");
			t->error_type = "cancelled";
			t->execution_ms = 0;
		}
		if (t->outcome != MC_OUTCOME_FAILED && t->outcome != MC_OUTCOME_HANDED_BACK)
			continue;
		sw->may_wrap = true;
		if (mc_record_failed_attempt(session, wf, t))
			sw->released++;
		if (t->outcome == MC_OUTCOME_FAILED && t->attempt < t->max_attempts)
			batch->retry_scheduled = true;
	}

	start_if_requested(session, wf, sw->start_by);

	if (wf->status == MC_WF_RUNNING && (sw->candidate || sw->nfinished > 0))
	{
		if (mc_worker_slot >= 0)
		{
			int			holders;
			int			held_tasks;

			/*
			 * max_parallel_tasks bounds the tasks that run at once, not the
			 * tasks claimed: this worker's claims run one after another, so
			 * they take one slot of the workflow however many there are,
			 * and so do another worker's; an external agent's claim takes
			 * one.  The other workers publish what they hold (and do so
			 * before they commit, under this workflow's lock, which this
			 * step holds now); the running tasks they do not hold are the
			 * agents'.
			 */
			mc_workflow_holders(&sw->id, &holders, &held_tasks);
			sw->others_used = holders +
				Max(wf->tasks_running - held_tasks - sw->mine, 0);
			sw->limit = sw->others_used < wf->max_parallel_tasks ? room : 0;

			/*
			 * Fairness: an owner's workflows take at most
			 * mycelium.max_workers_per_owner workers, so that the other
			 * owners' tasks find workers too.
			 */
			if (sw->limit > 0 && !mc_owner_reserve(wf->owner))
			{
				sw->limit = 0;
				batch->owner_capped = true;
			}
			/* what a worker holds must fit in its published slot */
			if (sw->limit > 0 && sw->mine == 0)
			{
				if (*nworkflows >= MC_SLOT_WORKFLOWS)
					sw->limit = 0;
				else
					(*nworkflows)++;
			}
		}
		else
			sw->limit = Min(room, wf->max_parallel_tasks - wf->tasks_running);
		/*
		 * Share the work with idle (or starting) workers rather than queue
		 * it here: take one task and leave the rest to them, so tasks of
		 * unknown length run in parallel; but only when another worker may
		 * run the workflow's tasks beside this one (a slot of the workflow
		 * and of its owner's share is left), else the idle ones could not
		 * take them and this worker would claim one at a time for nothing.
		 */
		if (sw->limit > 1 && batch->share_work &&
			(mc_worker_slot < 0 ||
			 (sw->others_used + 1 < wf->max_parallel_tasks &&
			  mc_owner_workers(wf->owner) + 1 < mc_max_workers_per_owner)))
		{
			sw->limit = 1;
			sw->shared_one = true;
			batch->shared = true;
		}
		sw->limit = Max(sw->limit, 0);
		sw->ask = sw->limit;
		sw->after = Min(claim_cursor_get(batch, &sw->id), sw->lowest_ready - 1);
	}
}

/*
 * hand_back_behind_long
 *		Hands back at once the tasks the step claimed that would start late
 *		in this worker, behind long ones.  The claim sizes itself by the
 *		attempts the worker ran last and cannot tell a long task from a
 *		quick one; a worker that has just run quick ones may thus claim
 *		several long ones, to run in turn.  Each task of the batch is
 *		expected to take what its executor's attempts take (estimate.c), or
 *		when that is unknown, what the worker's last ones took; a task this
 *		step claimed that is expected to start later than twice
 *		mycelium.batch_time (as run_attempts would hand it back) is ready
 *		again at once, uncounted, and its workflow is requeued, so that
 *		workers that fall idle meanwhile take it.  first_new is the first
 *		of the batch's tasks this step claimed; those claimed before stay.
 *		A worker alone keeps them all.
 */
static void
hand_back_behind_long(McCatalogSession *session, McBatch *batch,
					  StepWorkflow *sws, int nsw, int first_new)
{
	int64		late = (int64) MC_HAND_BACK_BATCH_TIMES * mc_batch_time_ms * 1000;
	int64		start_us = 0;
	Oid			executor = InvalidOid;	/* the last one looked up ... */
	int64		us = -1;		/* ... and its estimate */
	int			nkept = 0;
	int			i;

	if (mc_max_workers <= 1 || batch->ntasks <= 1)
		return;
	for (i = 0; i < batch->ntasks; i++)
	{
		McRunTask  *t = &batch->tasks[i];

		if (start_us > late && i >= first_new)
		{
			StepWorkflow *sw = find_step_workflow(sws, nsw, &t->workflow_id);

			Assert(sw != NULL && sw->locked);
			t->outcome = MC_OUTCOME_HANDED_BACK;
			(void) mc_record_failed_attempt(session, &sw->wf, t);
			sw->wf.changed = true;
			sw->handed_back++;
			/* below the cursor: claim from there next time */
			sw->lowest_unclaimed = Min(sw->lowest_unclaimed, t->task_no);
			continue;
		}
		if (t->executor != executor)
		{
			executor = t->executor;
			us = mc_estimate_get(executor);
		}
		start_us += us >= 0 ? us : batch->attempt_us;
		batch->tasks[nkept++] = *t;
	}
	batch->ntasks = nkept;
}

/*
 * step_finish
 *		The last part of a step for one workflow: note where its claims
 *		ended, leave it to other workers if it may have more ready tasks,
 *		and complete it if it is done.
 */
static void
step_finish(McCatalogSession *session, McBatch *batch, StepWorkflow *sw)
{
	McWorkflow *wf = &sw->wf;

	if (!sw->locked)
		return;
	if (sw->last_claimed > 0)
		claim_cursor_set(batch, &sw->id, sw->last_claimed);
	else if (sw->after < claim_cursor_get(batch, &sw->id))
		claim_cursor_set(batch, &sw->id, sw->after);
	/* held tasks left ready below the cursor: start below them */
	if (sw->lowest_unclaimed <= claim_cursor_get(batch, &sw->id))
		claim_cursor_set(batch, &sw->id, sw->lowest_unclaimed - 1);

	if (wf->status == MC_WF_RUNNING)
	{
		/*
		 * One task claimed to share the rest: requeued only if there is a
		 * rest (mark_more_ready), so that a chain's workflow does not wake
		 * idle workers, or start new ones, at every link.
		 */
		if ((sw->handed_back > 0 ||
			 (sw->limit > 0 && (sw->claimed == sw->limit || sw->cut) &&
			  (!sw->shared_one || sw->cut || sw->more_ready))) &&
			slot_free_for_another(sw))
		{
			/* maybe more ready than we could take: let others look */
			requeue(batch, sw);
		}
		else if (sw->limit == 0 && (sw->candidate || sw->released > 0 || sw->nfinished > 0) &&
				 slot_free_for_another(sw))
		{
			/* this batch is full: the workflow's ready tasks are for others */
			requeue(batch, sw);
		}
	}
	if (wf->changed)
		mc_workflow_settle(session, wf);
}

/*
 * with_ready_tasks
 *		Of the step's workflows whose ask[i] is set, in one statement,
 *		which have a function task ready to run now: ask[i] stays set for
 *		those only.
 */
static void
with_ready_tasks(StepWorkflow *sws, int nsw, bool *ask)
{
	static const Oid argtypes[] = {UUIDARRAYOID};
	Datum	   *ids = palloc(sizeof(Datum) * Max(nsw, 1));
	Datum		values[1];
	int			n = 0;
	int			i;
	uint64		rows;
	uint64		r;

	for (i = 0; i < nsw; i++)
	{
		if (ask[i])
			ids[n++] = UUIDPGetDatum(&sws[i].id);
		ask[i] = false;
	}
	if (n == 0)
		return;
	values[0] = mc_catalog_array(ids, n, UUIDOID);
	/* Citus refuses a correlated sub-query beside unnest: the ids as a list */
	if (mc_citus_present())
		rows = mc_catalog_run(MC_PLAN_CITUS_CANDIDATES_WITH_WORK,
							  "SELECT DISTINCT t.workflow_id FROM mycelium.task_states t "
							  "WHERE t.workflow_id = ANY ($1::pg_catalog.uuid[]) "
							  "  AND t.status = 'ready' "
							  "  AND " MC_TASK_DUE("t") "AND " MC_FUNCTION_TASK("t"),
							  1, argtypes, values, NULL, 0);
	else
		rows = mc_catalog_run(MC_PLAN_CANDIDATES_WITH_WORK,
						  "SELECT i.id FROM pg_catalog.unnest($1::pg_catalog.uuid[]) AS i(id) "
						  "WHERE EXISTS (SELECT 1 FROM mycelium.task_states t "
						  "  WHERE t.workflow_id = i.id AND t.status = 'ready' "
						  "    AND " MC_TASK_DUE("t") "AND " MC_FUNCTION_TASK_PROBE("t") ")",
						  1, argtypes, values, NULL, 0);
	for (r = 0; r < rows; r++)
	{
		bool		isnull;
		StepWorkflow *sw = find_step_workflow(sws, nsw,
											  DatumGetUUIDP(mc_catalog_value(r, WITH_WORK_ID, &isnull)));

		Assert(sw != NULL);
		ask[sw - sws] = true;
	}
}

/*
 * mark_idle_candidates
 *		Marks the step's candidates (workflows it only looks at, not to
 *		start) that have no function task ready to run now: they are not
 *		locked, and not requeued.  Locking them would only write a lock
 *		record and make whoever works on them wait for this step's commit
 *		(a chain's workflow comes back to the queue at every link while the
 *		worker that runs it is busy).  Nothing is lost: whatever makes one
 *		of their tasks ready later queues the workflow again when it
 *		commits (due retries: the launcher).
 */
static void
mark_idle_candidates(StepWorkflow *sws, int nsw)
{
	bool	   *ask = palloc(sizeof(bool) * Max(nsw, 1));
	int			i;

	for (i = 0; i < nsw; i++)
	{
		ask[i] = sws[i].nfinished == 0 && !OidIsValid(sws[i].start_by);
		sws[i].idle = ask[i];
	}
	with_ready_tasks(sws, nsw, ask);
	for (i = 0; i < nsw; i++)
	{
		if (ask[i])
			sws[i].idle = false;
	}
}

/*
 * mark_more_ready
 *		Notes which of the step's workflows that claimed one task to share
 *		the rest have ready function tasks left (after release_held).
 */
static void
mark_more_ready(StepWorkflow *sws, int nsw)
{
	bool	   *ask = palloc(sizeof(bool) * Max(nsw, 1));
	int			i;

	for (i = 0; i < nsw; i++)
		ask[i] = sws[i].locked && sws[i].shared_one && !sws[i].cut &&
			sws[i].claimed == sws[i].limit && sws[i].wf.status == MC_WF_RUNNING;
	with_ready_tasks(sws, nsw, ask);
	for (i = 0; i < nsw; i++)
		sws[i].more_ready = ask[i];
}

/*
 * share_work_now
 *		Whether this step shares work: claims one task of a workflow and
 *		leaves the rest to other workers, so that tasks of unknown length
 *		run in parallel.  Only while more workers are idle (or the pool
 *		could start one) than the dispatch queue holds workflows for: with
 *		a backlog, the idle workers find work in the queue, and splitting a
 *		workflow's short tasks over several workers only makes each of them
 *		wait for the others' locks of that workflow's row.
 */
static bool
share_work_now(void)
{
	int			spare;
	int			queued;

	/* no shared memory (not preloaded): execute_workflow, in a session */
	if (mc_shared == NULL)
		return false;
	spare = mc_idle_workers();
	queued = MC_QUEUE_SIZE - mc_queue_room();
	if (mc_worker_slot >= 0 && mc_pool_can_grow())
		spare++;
	return spare > queued;
}

/*
 * mc_dispatch_step
 *		One step of a batch, in the current transaction and catalog
 *		session: records the outcome of the attempts that ran, then claims
 *		ready tasks, first from the workflows those attempts belonged to
 *		and then from the candidates.  Tasks claimed but not yet run stay
 *		in the batch.  Workflows to look at again are left in
 *		batch->requeue for the caller to push after commit.
 */
void
mc_dispatch_step(McCatalogSession *session, McBatch *batch,
				 McQueueEntry *candidates, int ncandidates)
{
	MemoryContext old;
	McRunTask  *finished;
	int			nfinished = 0;
	int			nkept = 0;
	StepWorkflow *sws;
	int			nsw = 0;
	bool	   *completed_set;
	ArrayType **completed_dependents;
	int			room;
	int			first_new;
	McHeldWorkflow held[MC_SLOT_WORKFLOWS];
	int			nheld;			/* entries of held */
	int			nslots;			/* workflows the batch will hold claims of */
	int			i;
	int			j;

	/* a fresh context for this step; the previous one holds the attempts */
	batch->cur ^= 1;
	MemoryContextReset(batch->step_cxt[batch->cur]);
	old = MemoryContextSwitchTo(batch->step_cxt[batch->cur]);
	batch->requeue = NIL;
	batch->retry_scheduled = false;
	batch->share_work = share_work_now();
	batch->shared = false;
	batch->owner_capped = false;

	/* split the batch: attempts that ran, and claimed tasks still to run */
	finished = palloc(sizeof(McRunTask) * Max(batch->ntasks, 1));
	for (i = 0; i < batch->ntasks; i++)
	{
		if (batch->tasks[i].outcome == MC_OUTCOME_NONE)
		{
			McRunTask  *t = &batch->tasks[nkept++];

			/* carried over: copy what it points to into this step's context */
			*t = batch->tasks[i];
			t->task_id = pstrdup(t->task_id);
			t->agent_type = pstrdup(t->agent_type);
			t->ctx = NULL;	/* mc_dispatch_lock_batch builds it again */
			if (t->output_schema != NULL)
				t->output_schema = DatumGetJsonbPCopy(JsonbPGetDatum(t->output_schema));
		}
		else
			finished[nfinished++] = batch->tasks[i];
	}
	batch->ntasks = nkept;
	qsort(finished, nfinished, sizeof(McRunTask), run_task_cmp);

	/* the workflows of this step, in lock order */
	sws = palloc0(sizeof(StepWorkflow) * (nfinished + ncandidates + 1));
	for (i = 0; i < nfinished; i++)
	{
		if (nsw == 0 || mc_uuid_cmp(&sws[nsw - 1].id, &finished[i].workflow_id) != 0)
		{
			memcpy(&sws[nsw].id, &finished[i].workflow_id, sizeof(pg_uuid_t));
			sws[nsw].first = i;
			nsw++;
		}
		sws[nsw - 1].nfinished++;
	}
	for (i = 0; i < ncandidates; i++)
	{
		memcpy(&sws[nsw].id, &candidates[i].workflow_id, sizeof(pg_uuid_t));
		sws[nsw].start_by = candidates[i].start_by;
		sws[nsw].rank = candidates[i].rank;
		sws[nsw].candidate = true;
		nsw++;
	}
	qsort(sws, nsw, sizeof(StepWorkflow), step_workflow_cmp);

	/* merge duplicates (a workflow both finished and a candidate) */
	for (i = 0, j = 0; i < nsw; i++)
	{
		if (j > 0 && mc_uuid_cmp(&sws[j - 1].id, &sws[i].id) == 0)
		{
			StepWorkflow *a = &sws[j - 1];

			a->candidate |= sws[i].candidate;
			if (OidIsValid(sws[i].start_by))
				a->start_by = sws[i].start_by;
			if (sws[i].rank != 0 && (a->rank == 0 || sws[i].rank < a->rank))
				a->rank = sws[i].rank;
			if (sws[i].nfinished > 0)
			{
				a->first = sws[i].first;
				a->nfinished = sws[i].nfinished;
			}
			continue;
		}
		sws[j++] = sws[i];
	}
	nsw = j;

	completed_set = palloc(sizeof(bool) * Max(nfinished, 1));
	completed_dependents = palloc(sizeof(ArrayType *) * Max(nfinished, 1));
	mc_complete_rows_early(session, finished, nfinished, completed_set,
						completed_dependents);

	/* lock them all, waiting only for those with outcomes to record */
	mark_idle_candidates(sws, nsw);
	{
		pg_uuid_t  *ids = palloc(sizeof(pg_uuid_t) * Max(nsw, 1));
		McWorkflow **wfs = palloc(sizeof(McWorkflow *) * Max(nsw, 1));
		bool	   *locked = palloc(sizeof(bool) * Max(nsw, 1));
		int			pass;

		for (pass = 0; pass < 2; pass++)
		{
			int			n = 0;

			for (i = 0; i < nsw; i++)
			{
				if ((sws[i].nfinished > 0) == (pass == 0) && !sws[i].idle)
				{
					ids[n] = sws[i].id;
					wfs[n++] = &sws[i].wf;
				}
			}
			mc_workflows_lock(session, ids, n, pass == 1, wfs, locked);
			for (i = 0, j = 0; i < nsw; i++)
			{
				if ((sws[i].nfinished > 0) == (pass == 0) && !sws[i].idle)
					sws[i].locked = locked[j++];
			}
		}
	}

	for (i = 0; i < nsw; i++)
		sws[i].lowest_ready = PG_INT32_MAX;
	room = claim_room(batch);
	record_completed_all(session, sws, nsw, finished, completed_set,
						 completed_dependents,
						 batch->share_work ? Min(room, 1) : room, room);

	first_new = batch->ntasks;
	nheld = batch_held(batch, held);
	nslots = nheld;
	for (i = 0; i < nsw; i++)
	{
		sws[i].mine = held_tasks_of(held, nheld, &sws[i].id);
		/* counts, in nslots, the workflows it will hold claims of */
		step_record(session, batch, &sws[i], finished, room, &nslots);
		CHECK_FOR_INTERRUPTS();
	}
	room -= claim_all(session, batch, sws, nsw, room, true);

	/* too few above the cursor where some may lie below: once more from 0 */
	for (i = 0, j = 0; i < nsw; i++)
	{
		StepWorkflow *sw = &sws[i];

		sw->ask = 0;
		if (sw->limit > 0 && sw->claimed < sw->limit && sw->after > 0 &&
			sw->may_wrap && !sw->cut)
		{
			if (room <= 0)
			{
				sw->cut = true; /* the batch is full: for others */
				continue;
			}
			sw->ask = sw->limit - sw->claimed;
			sw->after = 0;
			j++;
		}
	}
	if (j > 0)
		claim_all(session, batch, sws, nsw, room, false);
	release_held(sws, nsw);
	hand_back_behind_long(session, batch, sws, nsw, first_new);
	mark_more_ready(sws, nsw);
	for (i = 0, j = 0; i < nsw; i++)
	{
		step_finish(session, batch, &sws[i]);
		CHECK_FOR_INTERRUPTS();
	}

	/* save every workflow the step changed, in one statement */
	{
		McWorkflow **changed = palloc(sizeof(McWorkflow *) * Max(nsw, 1));

		for (i = 0; i < nsw; i++)
		{
			if (sws[i].locked && sws[i].wf.changed)
				changed[j++] = &sws[i].wf;
		}
		mc_workflows_save(session, changed, j);
	}

	/* before commit, while the workflows' locks are held: see step_record */
	mc_publish_held(held, batch_held(batch, held));
	batch->progressed = nfinished > 0 || batch->ntasks > nkept;
	MemoryContextSwitchTo(old);
}

/*
 * mc_batch_context
 *		The memory context attempts of the batch's current tasks run in.
 */
MemoryContext
mc_batch_context(McBatch *batch)
{
	return batch->step_cxt[batch->cur];
}

/*
 * mc_dispatch_lock_batch
 *		At the start of the transaction that runs the batch's claimed
 *		attempts: locks their task rows, which stay locked until their
 *		outcome commits, so nobody changes a task while its attempt runs
 *		(cancel_workflow and update_task pass over rows a worker holds).
 *		A task cancelled between its claim and this lock is not ours any
 *		more and will not run.  Builds the ctx of each task it locked in
 *		the same statement: here, outside the workflows' row locks, it does
 *		not hold up other workers stepping through the same workflows, and
 *		the ctx is as of the attempt's start (handoffs sent since the claim
 *		included).
 */
void
mc_dispatch_lock_batch(McBatch *batch)
{
	static const Oid argtypes[] = {UUIDARRAYOID, INT4ARRAYOID, INT4ARRAYOID, TEXTOID};
	Datum	   *ids = palloc(sizeof(Datum) * Max(batch->ntasks, 1));
	Datum	   *nos = palloc(sizeof(Datum) * Max(batch->ntasks, 1));
	Datum	   *attempts = palloc(sizeof(Datum) * Max(batch->ntasks, 1));
	int		   *index = palloc(sizeof(int) * Max(batch->ntasks, 1));
	bool	   *ours = palloc0(sizeof(bool) * Max(batch->ntasks, 1));
	Datum		values[4];
	int			n = 0;
	uint64		rows;
	uint64		r;
	int			i;
	McCtxSources *sources;
	MemoryContext old;

	for (i = 0; i < batch->ntasks; i++)
	{
		McRunTask  *t = &batch->tasks[i];

		if (t->outcome != MC_OUTCOME_NONE)
			continue;
		ids[n] = UUIDPGetDatum(&t->workflow_id);
		nos[n] = Int32GetDatum(t->task_no);
		attempts[n] = Int32GetDatum(t->attempt);
		index[n++] = i;
	}
	if (n == 0)
		return;

	values[0] = mc_catalog_array(ids, n, UUIDOID);
	values[1] = mc_catalog_array(nos, n, INT4OID);
	values[2] = mc_catalog_array(attempts, n, INT4OID);
	values[3] = CStringGetTextDatum(batch->worker_id);
	if (mc_citus_present())
		rows = mc_citus_lock_tasks(n, ids, nos, attempts, batch->worker_id);
	else
		rows = mc_catalog_run(MC_PLAN_LOCK_BATCH,
							  "SELECT c.n, " MC_CTX_COLUMNS("t")
							  "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.uuid[]), "
							  "  pg_catalog.unnest($2::pg_catalog.int4[]), pg_catalog.unnest($3::pg_catalog.int4[])) "
							  "  WITH ORDINALITY AS c(workflow_id, task_no, attempt, n) "
							  "JOIN mycelium.task_states t ON t.workflow_id = c.workflow_id "
							  "  AND t.task_no = c.task_no "
							  "WHERE t.status = 'running' AND t.attempt = c.attempt AND t.worker_id = $4 "
							  "ORDER BY t.workflow_id, t.task_no "
							  "FOR UPDATE OF t",
							  4, argtypes, values, NULL, 0);
	sources = mc_ctx_sources(rows, LOCKED_CTX);
	old = MemoryContextSwitchTo(mc_batch_context(batch));
	for (r = 0; r < rows; r++)
	{
		bool		isnull;
		int64		k = DatumGetInt64(mc_catalog_value(r, LOCKED_N, &isnull)) - 1;

		McRunTask  *t = &batch->tasks[index[k]];
		char	   *too_large = NULL;

		ours[k] = true;
		t->ctx = mc_ctx_from_row(r, LOCKED_CTX, sources, &too_large);
		if (t->ctx == NULL)
		{
			/* a failed attempt, not an error: the worker goes on */
			t->outcome = MC_OUTCOME_FAILED;
			t->error = too_large;
			t->error_type = "ctx_too_large";
			t->sqlerrcode = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		}
	}
	MemoryContextSwitchTo(old);
	for (i = 0; i < n; i++)
	{
		if (!ours[i])
			batch->tasks[index[i]].outcome = MC_OUTCOME_NOT_OURS;
	}
}
