/*-------------------------------------------------------------------------
 *
 * worker.c
 *		An executor worker: a background worker that takes workflows from
 *		the dispatch queue and runs their ready tasks in batches.
 *
 * The loop: run the attempts claimed by the last step (each in its own
 * subtransaction, as the workflow's owner), then, in the same transaction,
 * record them and claim the next batch (dispatch.c), and commit.  A batch
 * stops running attempts early when it has taken mycelium.batch_time, so a
 * long task does not hold back the results of the quick ones before it.
 * With nothing to do the worker sleeps on its latch until a push wakes it.
 *
 * The launcher starts workers as work needs them (launcher.c); a worker
 * idle for mycelium.worker_idle_timeout leaves, as long as more than
 * mycelium.min_workers stay.  An error outside an attempt ends the worker;
 * the launcher then counts the attempts it had left running as lost.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "dispatch.h"
#include "estimate.h"
#include "mycelium.h"
#include "shmem.h"
#include "version.h"
#include "worker.h"

/* workflows taken from the queue per step */
#define MC_CANDIDATES 64

/* whether this worker is leaving the pool idle, holding no claimed task */
static bool leaving_idle = false;

/*
 * worker_detach
 *		on_shmem_exit callback: gives up this worker's slot.  By now the
 *		worker's transaction, if any, has been aborted (before_shmem_exit),
 *		so whatever it claimed and had not recorded is only "running" in
 *		the catalog.  A worker that leaves idle frees the slot; any other
 *		leaves it exited, for the launcher to count its attempts as lost
 *		before the slot is used again.
 */
static void
worker_detach(int code, Datum arg)
{
	McWorkerSlot *slot = &mc_shared->workers[DatumGetInt32(arg)];

	SpinLockAcquire(&mc_shared->mutex);
	if (slot->pid == MyProcPid)
	{
		slot->state = leaving_idle ? MC_SLOT_FREE : MC_SLOT_EXITED;
		slot->pid = 0;
		slot->latch = NULL;
		slot->waiting = false;
		slot->busy = false;
		slot->executing = false;
		slot->leaving = false;
		slot->nheld = 0;
		slot->nreserved = 0;
	}
	SpinLockRelease(&mc_shared->mutex);
	mc_wake_launcher();
}

/*
 * take_slot
 *		Takes the slot the launcher reserved for this worker, unless a
 *		launcher started since (generation) gave it up: then the worker
 *		has nothing to do and returns false.
 */
static bool
take_slot(int slot, uint32 generation)
{
	McWorkerSlot *w = &mc_shared->workers[slot];
	bool		ok;

	SpinLockAcquire(&mc_shared->mutex);
	ok = w->state == MC_SLOT_STARTING && w->generation == generation;
	if (ok)
	{
		w->state = MC_SLOT_RUNNING;
		w->pid = MyProcPid;
		w->latch = MyLatch;
		w->leaving = false;
		w->nheld = 0;
		w->nreserved = 0;
	}
	SpinLockRelease(&mc_shared->mutex);
	return ok;
}

/*
 * leave_if_idle_long
 *		Whether this worker, idle since idle_since, should leave the pool:
 *		it has been idle for mycelium.worker_idle_timeout and at least
 *		mycelium.min_workers other workers stay.  Marks the slot leaving,
 *		under the lock, so that workers idle at the same time do not all
 *		leave.
 */
static bool
leave_if_idle_long(TimestampTz idle_since)
{
	int			staying = 0;
	int			i;
	bool		leave = false;

	if (!TimestampDifferenceExceeds(idle_since, GetCurrentTimestamp(),
									mc_worker_idle_timeout_ms))
		return false;
	SpinLockAcquire(&mc_shared->mutex);
	for (i = 0; i < mc_shared->nworkers; i++)
	{
		McWorkerSlot *w = &mc_shared->workers[i];

		if (w->state == MC_SLOT_RUNNING && !w->leaving)
			staying++;
	}
	if (staying > mc_min_workers)
	{
		mc_shared->workers[mc_worker_slot].leaving = true;
		leave = true;
	}
	SpinLockRelease(&mc_shared->mutex);
	return leave;
}

/*
 * extension_ready
 *		Whether the extension exists in the database at the library's
 *		version, so the catalog can be used (the launcher logs why not).
 */
static bool
extension_ready(void)
{
	bool		ready;

	StartTransactionCommand();
	ready = mc_extension_state(NULL) == MC_EXT_CURRENT;
	CommitTransactionCommand();
	return ready;
}

/*
 * run_attempts
 *		Runs the batch's claimed attempts in turn until they are done or
 *		the batch has run for mycelium.batch_time, and notes how long they
 *		took on average, which bounds how many the next step claims, and
 *		how long each took, for its executor's estimate (estimate.c).  When
 *		they took more than twice that long, the claim expected them to be
 *		much quicker than they were (long tasks claimed after quick ones):
 *		the attempts not started yet are handed back, for workers that
 *		fall idle meanwhile, rather than wait here behind each other (the
 *		step makes them ready again, uncounted).  Within twice batch_time
 *		they stay and run next.
 */
static void
run_attempts(McBatch *batch)
{
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz now = start;	/* when the last attempt ended */
	MemoryContext old = MemoryContextSwitchTo(mc_batch_context(batch));
	int			nrun = 0;
	int			i;

	for (i = 0; i < batch->ntasks; i++)
	{
		McRunTask  *t = &batch->tasks[i];
		TimestampTz end;

		if (t->outcome != MC_OUTCOME_NONE)
			continue;
		if (i > 0 && TimestampDifferenceExceeds(start, now, mc_batch_time_ms))
		{
			/* far beyond what the claim expected: the rest are for others */
			if (TimestampDifferenceExceeds(start, now,
										   MC_HAND_BACK_BATCH_TIMES * mc_batch_time_ms))
			{
				for (; i < batch->ntasks; i++)
				{
					if (batch->tasks[i].outcome == MC_OUTCOME_NONE)
						batch->tasks[i].outcome = MC_OUTCOME_HANDED_BACK;
				}
			}
			break;
		}
		if (mc_workflow_ended_recently(&t->workflow_id))
		{
			t->outcome = MC_OUTCOME_NOT_RUN;
			continue;
		}
		pgstat_report_activity(STATE_RUNNING,
							   psprintf("mycelium: workflow %s task \"%s\" attempt %d",
										DatumGetCString(DirectFunctionCall1(uuid_out,
																			UUIDPGetDatum(&t->workflow_id))),
										t->task_id, t->attempt));
		mc_execute_task(t, true);
		end = GetCurrentTimestamp();
		mc_estimate_note(t->executor, end - now);
		now = end;
		nrun++;
	}
	if (nrun > 0)
		batch->attempt_us = (now - start) / nrun;
	MemoryContextSwitchTo(old);
}

/*
 * push_requeued
 *		After commit: pushes the workflows the step left for others.
 */
static void
push_requeued(McBatch *batch)
{
	ListCell   *lc;

	foreach(lc, batch->requeue)
		mc_queue_push_entry((McQueueEntry *) lfirst(lc));
	batch->requeue = NIL;
}

/*
 * sleep_for_work
 *		Waits on the latch until a push, a signal, or a second passes.
 *		The statistics of the steps since the last flush are flushed first,
 *		as a backend does when it goes idle: pgstat_report_stat(false)
 *		after each step flushes at most once a second, and what a worker's
 *		last steps did would otherwise stay out of pg_stat_user_tables
 *		until it ran again.
 */
static void
sleep_for_work(int slot)
{
	SpinLockAcquire(&mc_shared->mutex);
	mc_shared->workers[slot].waiting = true;
	SpinLockRelease(&mc_shared->mutex);
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 1000L, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	SpinLockAcquire(&mc_shared->mutex);
	mc_shared->workers[slot].waiting = false;
	SpinLockRelease(&mc_shared->mutex);
}

/*
 * reload_settings
 *		Rereads the configuration after a SIGHUP; the batch follows
 *		mycelium.batch_size.
 */
static void
reload_settings(McBatch *batch)
{
	if (!ConfigReloadPending)
		return;
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	mc_batch_resize(batch, mc_batch_size);
}

/*
 * look_for_work
 *		With nothing claimed: takes workflows off the dispatch queue into
 *		candidates and returns how many.  Finding none, it sleeps until
 *		woken (returning 0), or leaves the pool once idle for
 *		mycelium.worker_idle_timeout; *idle_since is when it last found
 *		none after having work.
 */
static int
look_for_work(McQueueEntry *candidates, int slot, TimestampTz *idle_since)
{
	int			n = mc_queue_pop(candidates, MC_CANDIDATES);

	if (n > 0)
		return n;
	if (*idle_since == 0)
		*idle_since = GetCurrentTimestamp();
	else if (leave_if_idle_long(*idle_since))
	{
		/* it holds nothing: the slot is free for another */
		leaving_idle = true;
		proc_exit(0);
	}
	sleep_for_work(slot);
	return 0;
}

/*
 * run_and_dispatch
 *		One transaction: runs the attempts claimed by the last step (each in
 *		its own subtransaction), then records their outcomes and claims the
 *		next tasks (mc_dispatch_step), from the workflows they belong to and
 *		the candidates.  Holding claims, it takes more from the queue only
 *		after running them, so that a workflow this worker just requeued for
 *		idle workers goes to them.
 */
static void
run_and_dispatch(McBatch *batch, McQueueEntry *candidates, int ncandidates)
{
	McCatalogSession session;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	mc_catalog_open(&session);
	if (ncandidates == 0)
	{
		mc_dispatch_lock_batch(batch);
		run_attempts(batch);
		/* what the last step left to idle workers is theirs to take */
		if (!batch->shared)
			ncandidates = mc_queue_pop(candidates, MC_CANDIDATES);
	}
	pgstat_report_activity(STATE_RUNNING, "mycelium: dispatching");
	mc_dispatch_step(&session, batch, candidates, ncandidates);
	mc_catalog_close(&session);
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * after_commit
 *		After a step committed: waits a little if it found only workflows
 *		busy elsewhere, says whether the worker holds claims, pushes the
 *		workflows it left to others, and wakes who waits for its commit.
 */
static void
after_commit(McBatch *batch)
{
	/*
	 * Nothing claimed and workflows busy elsewhere: do not spin on them,
	 * but wait only until another worker commits (at most 10 ms), since
	 * that commit may have freed them.  A worker that leaves work to idle
	 * ones is in its next step soon after, so waiting out a fixed time
	 * would mostly find the workflow locked again.  Workflows whose owner
	 * has taken its share of the pool wait for a worker of that owner to
	 * commit, which may free a place: up to 100 ms, so that idle workers
	 * do not spin on them while long tasks run.
	 */
	if (batch->ntasks == 0 && batch->requeue != NIL)
	{
		ConditionVariablePrepareToSleep(&mc_shared->progress);
		(void) ConditionVariableTimedSleep(&mc_shared->progress,
										   batch->owner_capped ? 100L : 10L,
										   PG_WAIT_EXTENSION);
		ConditionVariableCancelSleep();
	}
	pgstat_report_stat(false);
	mc_set_busy(batch->ntasks > 0);
	push_requeued(batch);
	if (batch->retry_scheduled)
		mc_wake_launcher();

	/*
	 * Wake the workers waiting for a commit that may free work, if this one
	 * can have: a step that recorded nothing and claimed nothing changed
	 * nothing they wait for, and idle workers that woke each other at every
	 * such step would spin on workflows they cannot run.
	 */
	if (batch->progressed)
		ConditionVariableBroadcast(&mc_shared->progress);
}

/*
 * mc_worker_main
 *		Entry point of executor worker number main_arg (its slot), started
 *		by the launcher of generation bgw_extra.
 */
void
mc_worker_main(Datum main_arg)
{
	int			slot = DatumGetInt32(main_arg);
	uint32		generation;
	char		worker_id[64];
	McBatch    *batch;
	McQueueEntry candidates[MC_CANDIDATES];
	TimestampTz idle_since = 0;

	memcpy(&generation, MyBgworkerEntry->bgw_extra, sizeof(generation));
	snprintf(worker_id, sizeof(worker_id), MC_WORKER_NAME, slot);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(mc_database, NULL, 0);
	pgstat_report_appname(worker_id);

	on_shmem_exit(worker_detach, Int32GetDatum(slot));
	if (!take_slot(slot, generation))
		proc_exit(0);
	mc_worker_slot = slot;

	/* cancel interrupts are let through only while an attempt runs */
	HOLD_CANCEL_INTERRUPTS();

	/*
	 * The launcher starts workers only once the extension is there, but it
	 * may be dropped or updated meanwhile: wait as an idle worker does.
	 */
	idle_since = GetCurrentTimestamp();
	while (!extension_ready())
	{
		if (leave_if_idle_long(idle_since))
		{
			leaving_idle = true;
			proc_exit(0);
		}
		sleep_for_work(slot);
		CHECK_FOR_INTERRUPTS();
	}
	idle_since = 0;

	batch = mc_batch_create(TopMemoryContext, worker_id, mc_batch_size);

	/*
	 * The loop, in phases: reload the settings if asked; with nothing
	 * claimed, look for work (or sleep, or leave the pool); run the claimed
	 * attempts, record their outcomes and claim the next ones, in one
	 * transaction; after its commit, hand on what the step left to others.
	 */
	for (;;)
	{
		int			ncandidates;

		CHECK_FOR_INTERRUPTS();
		reload_settings(batch);
		ncandidates = 0;
		if (batch->ntasks == 0)
		{
			ncandidates = look_for_work(candidates, slot, &idle_since);
			if (ncandidates == 0)
				continue;
		}
		idle_since = 0;
		run_and_dispatch(batch, candidates, ncandidates);
		after_commit(batch);
	}
}
