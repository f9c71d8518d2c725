/*-------------------------------------------------------------------------
 *
 * pool.c
 *		The elastic pool of executor workers: the launcher starts them as
 *		dynamic background workers when work needs them, and counts the
 *		attempts of those that exited as lost.
 *
 * Each worker has a slot in shared memory (shmem.h), one per
 * mycelium.max_workers, and its name, "mycelium worker <slot>", is the
 * worker_id of the tasks it claims.  A slot goes
 *
 *		free --launcher reserves--> starting --worker connects--> running
 *		  ^                           |                             |
 *		  |  (never started)          |         worker leaves idle  |
 *		  +<--------------------------+<----------------------------+
 *		  |                                                         |
 *		  +<--launcher counts its attempts as lost-- exited <-------+
 *		                                              (any other exit)
 *
 * Only the launcher reserves and frees slots, so while it recovers the
 * attempts of the workers that are neither running nor starting, no new
 * worker can take one of their names.  A worker is "exited" only once its
 * on_shmem_exit callback ran, after its transaction was aborted and its
 * locks released, so its attempts' writes are undone before the attempts
 * are retried: exactly-once holds.  A crash of any backend restarts the
 * whole server and clears shared memory; the launcher's first look then
 * recovers every attempt a scheduler worker left running.
 *
 * The launcher starts workers when a push found no idle worker to wake
 * (mc_wake_workers counts them in mc_shared->wanted), and keeps
 * mycelium.min_workers running; workers idle for
 * mycelium.worker_idle_timeout leave by themselves (worker.c).  When the
 * postmaster has no free background worker slot, the work waits in the
 * queue for the running workers, and the log says why, once.
 *
 * A launcher that starts while workers of an earlier launcher run (the
 * launcher exited with an error) adopts the running ones and gives up the
 * slots of those still starting: it bumps the generation, and a worker
 * that finds its slot's generation changed exits before it claims.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "dispatch.h"
#include "recovery.h"
#include "mycelium.h"
#include "pool.h"
#include "shmem.h"

/* the handles of the workers this launcher registered, by slot */
static BackgroundWorkerHandle **handles = NULL;

/* the exited slots whose attempts the last recovery counted as lost */
static bool *recovered = NULL;

/* whether the log said that no background worker slot was free */
static bool shortage_logged = false;

/*
 * mc_pool_adopt
 *		At the launcher's start: takes over the pool from an earlier
 *		launcher, if any.  Running workers go on; slots still starting are
 *		given up (their workers, if they come, exit at once).
 */
void
mc_pool_adopt(void)
{
	int			i;

	handles = MemoryContextAllocZero(TopMemoryContext,
									 sizeof(BackgroundWorkerHandle *) * mc_shared->nworkers);
	recovered = MemoryContextAllocZero(TopMemoryContext,
									   sizeof(bool) * mc_shared->nworkers);
	SpinLockAcquire(&mc_shared->mutex);
	mc_shared->generation++;
	for (i = 0; i < mc_shared->nworkers; i++)
	{
		if (mc_shared->workers[i].state == MC_SLOT_STARTING)
			mc_shared->workers[i].state = MC_SLOT_FREE;
	}
	SpinLockRelease(&mc_shared->mutex);
}

/*
 * mc_pool_recover
 *		In the launcher's transaction: counts as lost the attempts left
 *		running by scheduler workers that are neither running nor starting,
 *		if some worker exited since the last look, or with all (the first
 *		look since the extension appeared), in any case.  The exited slots
 *		it covered are freed by mc_pool_free_recovered after commit.
 *		Returns whether it looked.
 */
bool
mc_pool_recover(McCatalogSession *session, bool all)
{
	Datum	   *live = palloc(sizeof(Datum) * mc_shared->nworkers);
	int			nlive = 0;
	bool		any = all;
	int			i;

	SpinLockAcquire(&mc_shared->mutex);
	for (i = 0; i < mc_shared->nworkers; i++)
	{
		McSlotState state = mc_shared->workers[i].state;

		recovered[i] = state == MC_SLOT_EXITED;
		any |= recovered[i];
		if (state == MC_SLOT_RUNNING || state == MC_SLOT_STARTING)
			live[nlive++] = Int32GetDatum(i);
	}
	SpinLockRelease(&mc_shared->mutex);
	if (!any)
		return false;
	for (i = 0; i < nlive; i++)
		live[i] = CStringGetTextDatum(psprintf(MC_WORKER_NAME, DatumGetInt32(live[i])));
	mc_recover_orphans(session, live, nlive, all);
	return true;
}

/*
 * mc_pool_free_recovered
 *		After the recovery committed: the exited slots it covered are free.
 */
void
mc_pool_free_recovered(void)
{
	int			i;

	SpinLockAcquire(&mc_shared->mutex);
	for (i = 0; i < mc_shared->nworkers; i++)
	{
		if (recovered[i] && mc_shared->workers[i].state == MC_SLOT_EXITED)
			mc_shared->workers[i].state = MC_SLOT_FREE;
		recovered[i] = false;
	}
	SpinLockRelease(&mc_shared->mutex);
}

/*
 * start_worker
 *		Registers a dynamic background worker for the reserved slot, which
 *		this launcher is notified of when it starts and stops.  Returns
 *		false when the postmaster has no background worker slot free.
 */
static bool
start_worker(int slot, uint32 generation)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "mycelium");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "mc_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, MC_WORKER_NAME, slot);
	snprintf(worker.bgw_type, BGW_MAXLEN, "mycelium worker");
	worker.bgw_main_arg = Int32GetDatum(slot);
	memcpy(worker.bgw_extra, &generation, sizeof(generation));
	worker.bgw_notify_pid = MyProcPid;
	if (handles[slot] != NULL)
	{
		pfree(handles[slot]);
		handles[slot] = NULL;
	}
	return RegisterDynamicBackgroundWorker(&worker, &handles[slot]);
}

/*
 * forget_unstarted
 *		Frees the slots of workers this launcher registered that stopped
 *		without taking their slot (they failed to start, or found their
 *		database gone): they claimed nothing.
 */
static void
forget_unstarted(void)
{
	int			i;

	for (i = 0; i < mc_shared->nworkers; i++)
	{
		pid_t		pid;
		bool		stopped;

		if (handles[i] == NULL)
			continue;
		stopped = GetBackgroundWorkerPid(handles[i], &pid) == BGWH_STOPPED;
		if (!stopped)
			continue;
		SpinLockAcquire(&mc_shared->mutex);
		if (mc_shared->workers[i].state == MC_SLOT_STARTING)
			mc_shared->workers[i].state = MC_SLOT_FREE;
		SpinLockRelease(&mc_shared->mutex);
		pfree(handles[i]);
		handles[i] = NULL;
	}
}

/*
 * mc_pool_grow
 *		Starts as many workers as were asked for and no idle worker
 *		served (mc_shared->wanted), and as keep mycelium.min_workers
 *		running, within the free slots.
 */
void
mc_pool_grow(void)
{
	int			want;
	int			live = 0;
	int			started = 0;
	uint32		generation;
	int			i;

	forget_unstarted();
	SpinLockAcquire(&mc_shared->mutex);
	want = mc_shared->wanted;
	mc_shared->wanted = 0;
	generation = mc_shared->generation;
	for (i = 0; i < mc_shared->nworkers; i++)
	{
		McWorkerSlot *w = &mc_shared->workers[i];

		if (w->state == MC_SLOT_STARTING ||
			(w->state == MC_SLOT_RUNNING && !w->leaving))
			live++;
	}
	SpinLockRelease(&mc_shared->mutex);
	want = Max(want, Min(mc_min_workers, mc_shared->nworkers) - live);

	for (i = 0; i < mc_shared->nworkers && started < want; i++)
	{
		bool		reserved = false;

		SpinLockAcquire(&mc_shared->mutex);
		if (mc_shared->workers[i].state == MC_SLOT_FREE)
		{
			mc_shared->workers[i].state = MC_SLOT_STARTING;
			mc_shared->workers[i].generation = generation;
			reserved = true;
		}
		SpinLockRelease(&mc_shared->mutex);
		if (!reserved)
			continue;
		if (!start_worker(i, generation))
		{
			/* the rest is asked for again at the next look */
			SpinLockAcquire(&mc_shared->mutex);
			mc_shared->workers[i].state = MC_SLOT_FREE;
			mc_shared->wanted = Min(mc_shared->wanted + want - started,
									mc_shared->nworkers);
			SpinLockRelease(&mc_shared->mutex);
			if (!shortage_logged)
				ereport(LOG,
						(errmsg("mycelium could not start an executor worker: no background worker slot is free"),
						 errdetail("%d executor workers run or are starting; work waits for them.",
								   live + started),
						 errhint("Raise max_worker_processes to leave room for mycelium.max_workers (%d) and the launcher.",
								 mc_max_workers)));
			shortage_logged = true;
			return;
		}
		started++;
	}
	if (started > 0)
		shortage_logged = false;
}
