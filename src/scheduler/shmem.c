/*-------------------------------------------------------------------------
 *
 * shmem.c
 *		Shared memory of the scheduler.
 *
 * The dispatch queue holds workflows that may have ready tasks: a workflow
 * is pushed when it is started or resumed, when a change outside the
 * workers makes one of its tasks ready, and by a worker that released
 * more ready tasks than it could take itself.  Workers pop entries and
 * look only at those workflows, so the cost of finding work does not grow
 * with the number of workflows.  Entries may repeat or be stale; a worker
 * that finds nothing to do for one just drops it.  When the queue is full
 * the rescan flag tells the launcher to rebuild it from the catalog.
 *
 * Priorities reach across the queue: each entry has a rank, the time it
 * was pushed less its workflow's priority times mycelium.priority_aging
 * (priority.c), and a worker taking max entries takes the half of lowest
 * rank first, then the oldest entries, then more by rank if the queue
 * has fewer old ones.  So a workflow of higher priority is taken at the
 * next step however many are queued before it, with the same aging bound
 * as its tasks: an entry is passed by rank only by entries pushed less
 * than the difference of their priorities times priority_aging after it.
 * The oldest half keeps the queue turning: entries a worker could not
 * serve (their workflow busy elsewhere, or its owner at its share of the
 * pool) and pushed back with their rank do not stop the others, whatever
 * their rank.  The entries sit in push order in a ring (queue_head to
 * queue_tail, where taken ones are passed over) and in a binary heap by
 * (rank, push order), each knowing its place in the other; a push or a
 * take costs O(log n) under the spinlock.
 *
 * Pushes made by a transaction take effect when it commits
 * (mc_push_at_commit), so a worker never looks for rows it cannot see yet.
 * Interrupting the workers that run a cancelled workflow's tasks is also
 * deferred to commit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "estimate.h"
#include "limit_slots.h"
#include "mycelium.h"
#include "mycelium_errcodes.h"
#include "priority.h"
#include "shmem.h"

McShared   *mc_shared = NULL;

/* this process's slot in mc_shared->workers, or -1 if it is no worker */
int			mc_worker_slot = -1;

static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* what this transaction will do when it commits */
typedef struct McPending
{
	pg_uuid_t	workflow_id;
	Oid			start_by;
	int32		priority;		/* of the workflow pushed */
	bool		interrupt;		/* signal workers running its tasks */
} McPending;

static List *pending_at_commit = NIL;
static bool xact_callback_registered = false;

/*
 * shmem_size
 *		Bytes of shared memory the scheduler needs.
 */
static Size
shmem_size(void)
{
	return add_size(offsetof(McShared, workers),
					mul_size(sizeof(McWorkerSlot), mc_max_workers));
}

/*
 * mc_shmem_request
 *		shmem_request_hook: asks for the scheduler's shared memory (with
 *		the table of executors' estimates, estimate.c, and that of agent
 *		types' limits, limit_slots.c).
 */
void
mc_shmem_request(void)
{
	RequestAddinShmemSpace(add_size(add_size(shmem_size(), mc_estimate_shmem_size()),
									mc_limit_slots_shmem_size()));
}

/*
 * shmem_startup
 *		shmem_startup_hook: creates or attaches to the shared state.
 */
static void
shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	mc_shared = ShmemInitStruct("mycelium", shmem_size(), &found);
	if (!found)
	{
		memset(mc_shared, 0, shmem_size());
		SpinLockInit(&mc_shared->mutex);
		ConditionVariableInit(&mc_shared->progress);
		mc_shared->nworkers = mc_max_workers;
	}
	mc_estimate_shmem_init();
	mc_limit_slots_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * mc_shmem_startup
 *		Installs the startup hook (called from _PG_init when preloaded).
 */
void
mc_shmem_startup(void)
{
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shmem_startup;
}

/*
 * mc_scheduler_available
 *		Whether a scheduler serves this database.
 */
bool
mc_scheduler_available(void)
{
	char	   *name;

	/* a single-user backend starts no background worker */
	if (mc_shared == NULL || mc_database == NULL || !IsUnderPostmaster)
		return false;
	name = get_database_name(MyDatabaseId);
	return name != NULL && strcmp(name, mc_database) == 0;
}

/*
 * mc_require_scheduler
 *		Reports clearly what to configure when no scheduler serves this
 *		database.
 */
void
mc_require_scheduler(void)
{
	if (mc_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the mycelium scheduler is not running"),
				 errdetail("The mycelium library is not in shared_preload_libraries."),
				 errhint("Add mycelium to shared_preload_libraries, set mycelium.database to this database, and restart the server; "
						 "or run the workflow in this session with mycelium.execute_workflow().")));
	if (!IsUnderPostmaster)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the mycelium scheduler does not run in a single-user backend"),
				 errhint("Run the workflow in this session with mycelium.execute_workflow(), or start the server normally.")));
	if (!mc_scheduler_available())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the mycelium scheduler does not serve this database"),
				 errdetail("mycelium.database is \"%s\".", mc_database),
				 errhint("Set mycelium.database to this database and restart the server; "
						 "or run the workflow in this session with mycelium.execute_workflow().")));
}

/*
 * slot_before
 *		Whether queue slot a comes before slot b in the heap: lower rank
 *		first, then the earlier push.  The caller holds mc_shared->mutex.
 */
static bool
slot_before(int32 a, int32 b)
{
	const McQueueSlot *x = &mc_shared->queue[a];
	const McQueueSlot *y = &mc_shared->queue[b];

	if (x->entry.rank != y->entry.rank)
		return x->entry.rank < y->entry.rank;
	return (int32) (x->seq - y->seq) < 0;
}

/*
 * heap_set
 *		Puts queue slot s at place pos of the heap.
 */
static void
heap_set(int32 pos, int32 s)
{
	mc_shared->heap[pos] = s;
	mc_shared->queue[s].heap_pos = pos;
}

/*
 * heap_sift
 *		Moves the slot at place pos of the heap up or down to where it
 *		belongs.
 */
static void
heap_sift(int32 pos)
{
	int32	   *heap = mc_shared->heap;
	int32		s = heap[pos];

	while (pos > 0 && slot_before(s, heap[(pos - 1) / 2]))
	{
		heap_set(pos, heap[(pos - 1) / 2]);
		pos = (pos - 1) / 2;
	}
	for (;;)
	{
		int32		child = 2 * pos + 1;

		if (child >= mc_shared->heap_n)
			break;
		if (child + 1 < mc_shared->heap_n && slot_before(heap[child + 1], heap[child]))
			child++;
		if (!slot_before(heap[child], s))
			break;
		heap_set(pos, heap[child]);
		pos = child;
	}
	heap_set(pos, s);
}

/*
 * queue_take
 *		Takes queue slot s's entry into *entry: out of the heap, and marked
 *		taken in the ring.
 */
static void
queue_take(int32 s, McQueueEntry *entry)
{
	McQueueSlot *slot = &mc_shared->queue[s];
	int32		pos = slot->heap_pos;
	int32		last = mc_shared->heap[--mc_shared->heap_n];

	*entry = slot->entry;
	slot->heap_pos = -1;
	if (last != s)
	{
		heap_set(pos, last);
		heap_sift(pos);
	}
}

/*
 * queue_pass_taken
 *		Moves the head of the ring past the entries taken by rank.
 */
static void
queue_pass_taken(void)
{
	while (mc_shared->queue_head != mc_shared->queue_tail &&
		   mc_shared->queue[mc_shared->queue_head % MC_QUEUE_SIZE].heap_pos < 0)
		mc_shared->queue_head++;
}

/*
 * mc_queue_push_entry
 *		Adds an entry, with the rank it has, to the dispatch queue and
 *		wakes a worker: a worker pushes back with their rank the workflows
 *		it took and left for others.  A full queue asks the launcher for a
 *		rescan instead.
 */
void
mc_queue_push_entry(const McQueueEntry *entry)
{
	bool		overflow = false;

	if (mc_shared == NULL)
		return;
	SpinLockAcquire(&mc_shared->mutex);
	if (mc_shared->queue_tail - mc_shared->queue_head >= MC_QUEUE_SIZE)
	{
		mc_shared->rescan = true;
		overflow = true;
	}
	else
	{
		int32		s = mc_shared->queue_tail % MC_QUEUE_SIZE;
		McQueueSlot *slot = &mc_shared->queue[s];

		slot->entry = *entry;
		slot->seq = mc_shared->queue_tail++;
		heap_set(mc_shared->heap_n++, s);
		heap_sift(slot->heap_pos);
	}
	SpinLockRelease(&mc_shared->mutex);

	if (overflow)
		mc_wake_launcher();
	else
		mc_wake_workers(1);
}

/*
 * mc_queue_push
 *		Adds a workflow of the given priority to the dispatch queue, ranked
 *		as pushed now, and wakes a worker.
 */
void
mc_queue_push(const pg_uuid_t *workflow_id, Oid start_by, int32 priority)
{
	McQueueEntry entry;

	memcpy(&entry.workflow_id, workflow_id, sizeof(pg_uuid_t));
	entry.start_by = start_by;
	entry.rank = mc_queue_rank(priority);
	mc_queue_push_entry(&entry);
}

/*
 * mc_queue_room
 *		How many more workflows the dispatch queue holds now.
 */
int
mc_queue_room(void)
{
	int			room;

	SpinLockAcquire(&mc_shared->mutex);
	room = MC_QUEUE_SIZE - (int) (mc_shared->queue_tail - mc_shared->queue_head);
	SpinLockRelease(&mc_shared->mutex);
	return room;
}

/*
 * mc_queue_pop
 *		Takes up to max entries from the dispatch queue: the half of lowest
 *		rank, then the oldest, then more by rank (see the file's header).
 */
int
mc_queue_pop(McQueueEntry *entries, int max)
{
	int			n = 0;

	SpinLockAcquire(&mc_shared->mutex);
	while (n < (max + 1) / 2 && mc_shared->heap_n > 0)
		queue_take(mc_shared->heap[0], &entries[n++]);
	queue_pass_taken();
	while (n < max && mc_shared->queue_head != mc_shared->queue_tail)
	{
		queue_take(mc_shared->queue_head % MC_QUEUE_SIZE, &entries[n++]);
		mc_shared->queue_head++;
		queue_pass_taken();
	}
	while (n < max && mc_shared->heap_n > 0)
		queue_take(mc_shared->heap[0], &entries[n++]);
	queue_pass_taken();
	SpinLockRelease(&mc_shared->mutex);
	return n;
}

/*
 * mc_wake_workers
 *		Sets the latch of up to n sleeping workers.  Those it finds too few
 *		of are asked of the launcher, which starts workers while the pool
 *		has room (launcher.c).
 */
void
mc_wake_workers(int n)
{
	Latch	   *latches[64];
	Latch	   *launcher = NULL;
	int			nl = 0;
	int			nfree = 0;
	int			i;

	SpinLockAcquire(&mc_shared->mutex);
	for (i = 0; i < mc_shared->nworkers; i++)
	{
		McWorkerSlot *w = &mc_shared->workers[i];

		if (w->state == MC_SLOT_FREE)
			nfree++;
		else if (nl < n && nl < lengthof(latches) &&
				 w->pid != 0 && w->waiting && w->latch != NULL)
		{
			w->waiting = false;
			latches[nl++] = w->latch;
		}
	}
	/* the pool can grow: ask the launcher, without asking it to look */
	if (nl < n && nfree > mc_shared->wanted)
	{
		mc_shared->wanted = Min(mc_shared->wanted + (n - nl), nfree);
		launcher = mc_shared->launcher_latch;
	}
	SpinLockRelease(&mc_shared->mutex);
	for (i = 0; i < nl; i++)
		SetLatch(latches[i]);
	if (launcher != NULL)
		SetLatch(launcher);
}

/*
 * mc_wake_launcher
 *		Sets the launcher's latch, asking it to look at the catalog at
 *		once (a workflow's retry is due, a worker exited, the queue
 *		overflowed).
 */
void
mc_wake_launcher(void)
{
	Latch	   *latch;

	SpinLockAcquire(&mc_shared->mutex);
	latch = mc_shared->launcher_latch;
	mc_shared->look_asked = true;
	SpinLockRelease(&mc_shared->mutex);
	if (latch != NULL)
		SetLatch(latch);
}

/*
 * mc_note_limits_held
 *		A worker's claim found limits that may hold tasks back
 *		(agent_limits.c): the launcher is to push again the workflows with
 *		ready tasks of limited types, which the worker leaves.  Wakes it
 *		unless it is doing so already (it then looks again shortly).
 */
void
mc_note_limits_held(void)
{
	bool		wake;

	if (mc_shared == NULL)
		return;
	SpinLockAcquire(&mc_shared->mutex);
	wake = !mc_shared->limits_held && !mc_shared->limits_polling;
	mc_shared->limits_held = true;
	SpinLockRelease(&mc_shared->mutex);
	if (wake)
		mc_wake_launcher();
}

/*
 * mc_limits_held_take
 *		The launcher: whether a worker's claim was held back by a limit
 *		since the last call.
 */
bool
mc_limits_held_take(void)
{
	bool		held;

	SpinLockAcquire(&mc_shared->mutex);
	held = mc_shared->limits_held;
	mc_shared->limits_held = false;
	SpinLockRelease(&mc_shared->mutex);
	return held;
}

/*
 * mc_limits_polling
 *		The launcher: whether it pushed workflows held back by limits, and
 *		so looks again soon (workers need not wake it).
 */
void
mc_limits_polling(bool polling)
{
	SpinLockAcquire(&mc_shared->mutex);
	mc_shared->limits_polling = polling;
	SpinLockRelease(&mc_shared->mutex);
}

/*
 * interrupt_workers_of
 *		The workflow ended (cancelled or failed): no worker starts another
 *		of its claimed tasks (they look in the ring of ended workflows), and
 *		every worker now running one of its tasks gets SIGINT; the attempt
 *		is interrupted and the worker records the task as cancelled.
 */
static void
interrupt_workers_of(const pg_uuid_t *workflow_id)
{
	pid_t		pids[64];
	int			n = 0;
	int			i;

	SpinLockAcquire(&mc_shared->mutex);
	memcpy(&mc_shared->cancelled[mc_shared->cancelled_next++ % MC_CANCELLED_RING],
		   workflow_id, sizeof(pg_uuid_t));
	for (i = 0; i < mc_shared->nworkers && n < lengthof(pids); i++)
	{
		McWorkerSlot *w = &mc_shared->workers[i];

		if (w->pid != 0 && w->executing &&
			memcmp(&w->workflow_id, workflow_id, sizeof(pg_uuid_t)) == 0)
		{
			/* the watchdog terminates it if it does not stop (watchdog.c) */
			if (w->cancel_at == 0)
				w->cancel_at = GetCurrentTimestamp();
			pids[n++] = w->pid;
		}
	}
	SpinLockRelease(&mc_shared->mutex);
	for (i = 0; i < n; i++)
		kill(pids[i], SIGINT);
}

/*
 * at_xact_end
 *		Transaction callback: on commit, carries out the pushes and
 *		interrupts the transaction asked for; on abort, forgets them.
 */
static void
at_xact_end(XactEvent event, void *arg)
{
	ListCell   *lc;
	List	   *pending;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_PARALLEL_COMMIT &&
		event != XACT_EVENT_ABORT && event != XACT_EVENT_PARALLEL_ABORT)
		return;

	pending = pending_at_commit;
	pending_at_commit = NIL;
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
	{
		foreach(lc, pending)
		{
			McPending  *p = lfirst(lc);

			if (p->interrupt)
				interrupt_workers_of(&p->workflow_id);
			else
				mc_queue_push(&p->workflow_id, p->start_by, p->priority);
		}
		if (pending != NIL)
			ConditionVariableBroadcast(&mc_shared->progress);
	}
	list_free_deep(pending);
}

/*
 * remember_at_commit
 *		Queues an action for the end of the current transaction.
 */
static void
remember_at_commit(const pg_uuid_t *workflow_id, Oid start_by, int32 priority,
				   bool interrupt)
{
	McPending  *p;

	if (mc_shared == NULL)
		return;
	if (!xact_callback_registered)
	{
		RegisterXactCallback(at_xact_end, NULL);
		xact_callback_registered = true;
	}
	p = MemoryContextAlloc(TopMemoryContext, sizeof(McPending));
	memcpy(&p->workflow_id, workflow_id, sizeof(pg_uuid_t));
	p->start_by = start_by;
	p->priority = priority;
	p->interrupt = interrupt;
	pending_at_commit = lappend(pending_at_commit, p);
}

/*
 * mc_push_at_commit
 *		Pushes a workflow of the given priority to the dispatch queue when
 *		the current transaction commits.
 */
void
mc_push_at_commit(const pg_uuid_t *workflow_id, Oid start_by, int32 priority)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	remember_at_commit(workflow_id, start_by, priority, false);
	MemoryContextSwitchTo(old);
}

/*
 * mc_interrupt_at_commit
 *		Interrupts the workers running a workflow's tasks when the current
 *		transaction commits.
 */
void
mc_interrupt_at_commit(const pg_uuid_t *workflow_id)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	remember_at_commit(workflow_id, InvalidOid, 0, true);
	MemoryContextSwitchTo(old);
}

/*
 * mc_idle_workers
 *		How many other workers hold no claimed task.  While some do, a
 *		worker claims one task at a time from a workflow and leaves the
 *		rest to them, so tasks of unknown length run in parallel.
 */
int
mc_idle_workers(void)
{
	int			n = 0;
	int			i;

	if (mc_shared == NULL)
		return 0;
	SpinLockAcquire(&mc_shared->mutex);
	for (i = 0; i < mc_shared->nworkers; i++)
	{
		McWorkerSlot *w = &mc_shared->workers[i];

		if (i != mc_worker_slot && w->pid != 0 && !w->busy)
			n++;
	}
	SpinLockRelease(&mc_shared->mutex);
	return n;
}

/*
 * mc_pool_can_grow
 *		Whether the launcher could start another worker: fewer slots are in
 *		use than mycelium.max_workers.
 */
bool
mc_pool_can_grow(void)
{
	int			used = 0;
	int			i;

	if (mc_shared == NULL)
		return false;
	SpinLockAcquire(&mc_shared->mutex);
	for (i = 0; i < mc_shared->nworkers; i++)
	{
		if (mc_shared->workers[i].state != MC_SLOT_FREE)
			used++;
	}
	SpinLockRelease(&mc_shared->mutex);
	return used < mc_shared->nworkers;
}

/*
 * mc_publish_held
 *		Publishes in this worker's slot the workflows it holds claimed
 *		tasks of (at most MC_SLOT_WORKFLOWS), and how many of each.  A
 *		worker publishes before the transaction that claimed them commits,
 *		while it holds their workflows' locks, so that whoever locks one
 *		of those workflows next finds them published.
 */
void
mc_publish_held(const McHeldWorkflow *held, int n)
{
	McWorkerSlot *w;

	if (mc_shared == NULL || mc_worker_slot < 0)
		return;
	Assert(n <= MC_SLOT_WORKFLOWS);
	w = &mc_shared->workers[mc_worker_slot];
	SpinLockAcquire(&mc_shared->mutex);
	memcpy(w->held, held, sizeof(McHeldWorkflow) * n);
	w->nheld = n;
	w->nreserved = 0;
	SpinLockRelease(&mc_shared->mutex);
}

/*
 * mc_workflow_holders
 *		How many other workers hold claimed tasks of a workflow, and how
 *		many tasks they hold in all.
 */
void
mc_workflow_holders(const pg_uuid_t *workflow_id, int *nworkers, int *ntasks)
{
	int			i;
	int			k;

	*nworkers = 0;
	*ntasks = 0;
	if (mc_shared == NULL)
		return;
	SpinLockAcquire(&mc_shared->mutex);
	for (i = 0; i < mc_shared->nworkers; i++)
	{
		McWorkerSlot *w = &mc_shared->workers[i];

		if (i == mc_worker_slot || w->pid == 0)
			continue;
		for (k = 0; k < w->nheld; k++)
		{
			if (memcmp(&w->held[k].id, workflow_id, sizeof(pg_uuid_t)) == 0)
			{
				(*nworkers)++;
				*ntasks += w->held[k].ntasks;
				break;
			}
		}
	}
	SpinLockRelease(&mc_shared->mutex);
}

/*
 * slot_serves_owner
 *		Whether a worker holds claimed tasks of an owner's workflows, or
 *		has taken a place in its share for the claim it is making.  The
 *		caller holds mc_shared->mutex.
 */
static bool
slot_serves_owner(const McWorkerSlot *w, Oid owner)
{
	int			k;

	for (k = 0; k < w->nheld; k++)
	{
		if (w->held[k].owner == owner)
			return true;
	}
	for (k = 0; k < w->nreserved; k++)
	{
		if (w->reserved[k] == owner)
			return true;
	}
	return false;
}

/*
 * owner_workers_locked
 *		How many other workers serve an owner (slot_serves_owner).  The
 *		caller holds mc_shared->mutex.
 */
static int
owner_workers_locked(Oid owner)
{
	int			n = 0;
	int			i;

	for (i = 0; i < mc_shared->nworkers; i++)
	{
		McWorkerSlot *w = &mc_shared->workers[i];

		if (i != mc_worker_slot && w->pid != 0 && slot_serves_owner(w, owner))
			n++;
	}
	return n;
}

/*
 * mc_owner_workers
 *		How many other workers hold (or are claiming) tasks of an owner's
 *		workflows.
 */
int
mc_owner_workers(Oid owner)
{
	int			n;

	if (mc_shared == NULL)
		return 0;
	SpinLockAcquire(&mc_shared->mutex);
	n = owner_workers_locked(owner);
	SpinLockRelease(&mc_shared->mutex);
	return n;
}

/*
 * mc_owner_reserve
 *		Takes a place in an owner's share of the workers
 *		(mycelium.max_workers_per_owner) for the claim this worker is about
 *		to make, if one is left.  Workers claim for different workflows of
 *		one owner under different locks, so counting and taking the place
 *		happen under one spinlock: two workers cannot both take the last
 *		place.  The place lasts until the worker publishes what it holds
 *		(mc_publish_held), which then counts instead.
 */
bool
mc_owner_reserve(Oid owner)
{
	McWorkerSlot *w;
	bool		ok;

	if (mc_shared == NULL || mc_worker_slot < 0)
		return true;
	w = &mc_shared->workers[mc_worker_slot];
	SpinLockAcquire(&mc_shared->mutex);
	ok = owner_workers_locked(owner) < mc_max_workers_per_owner;
	if (ok && !slot_serves_owner(w, owner) && w->nreserved < MC_SLOT_WORKFLOWS)
		w->reserved[w->nreserved++] = owner;
	SpinLockRelease(&mc_shared->mutex);
	return ok;
}

/*
 * mc_workflow_ended_recently
 *		Whether the workflow is in the ring of recently ended workflows, so
 *		a worker must not start its claimed tasks.
 */
bool
mc_workflow_ended_recently(const pg_uuid_t *workflow_id)
{
	bool		found = false;
	int			i;

	if (mc_shared == NULL)
		return false;
	SpinLockAcquire(&mc_shared->mutex);
	for (i = 0; i < MC_CANCELLED_RING && i < (int) mc_shared->cancelled_next; i++)
	{
		if (memcmp(&mc_shared->cancelled[i], workflow_id, sizeof(pg_uuid_t)) == 0)
		{
			found = true;
			break;
		}
	}
	SpinLockRelease(&mc_shared->mutex);
	return found;
}

/*
 * mc_set_busy
 *		Publishes whether this worker holds claimed tasks.
 */
void
mc_set_busy(bool busy)
{
	if (mc_shared == NULL || mc_worker_slot < 0)
		return;
	SpinLockAcquire(&mc_shared->mutex);
	mc_shared->workers[mc_worker_slot].busy = busy;
	SpinLockRelease(&mc_shared->mutex);
}
