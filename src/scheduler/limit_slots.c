/*-------------------------------------------------------------------------
 *
 * limit_slots.c
 *		The reservations of agent types with limits, in shared memory, so
 *		that claims of a limited agent type need not take turns.
 *
 * A limit of running tasks is checked against the running tasks a claim
 * counts in the catalog, which cannot show the claims of transactions not
 * yet committed.  Locking the type's row until commit would make every
 * claim of the type wait for the one before it to commit (its WAL flush
 * included).  Instead each limited type has a slot here: "inflight", the
 * tasks that claims of transactions not yet ended reserved or took, and
 * the rate's token bucket; and the table counts, in "ended", the tasks of
 * limited types whose claims committed.  A claim
 *
 *	1. reads "ended" (mc_limit_slots_ended),
 *	2. counts each type's running tasks in the catalog (a new snapshot;
 *	   or takes the count its slot keeps: below),
 *	3. under the table's spinlock, for each type: reserves what is left,
 *	   max_running - running - (ended now - ended then) - inflight, no more
 *	   than the claim's cap and the bucket's whole tokens, into inflight
 *	   and out of the bucket (mc_limit_slots_reserve);
 *	4. runs its claim statement, then gives back what it reserved and did
 *	   not take (mc_limit_slots_settle);
 *	5. at its transaction's end, adds what it took to "ended" (at commit;
 *	   then the tasks are visible as running) and takes it out of inflight,
 *	   giving the tokens back at abort (the tasks did not start).
 *
 * A task claimed by another transaction is counted at least once in step
 * 3: in inflight while that transaction runs; once it has committed, its
 * tasks are in the count of step 2 if the commit came before that
 * snapshot, and in "ended"'s growth since step 1 otherwise (the end of
 * transaction adds to "ended" before it leaves inflight, and only after
 * its commit is visible).  Some are counted twice, which only lets a claim
 * take fewer for that moment.  So no claim takes more than the limit
 * leaves, and none waits for another.  A task set running otherwise
 * (update_task, execute_workflow) adds one to "ended" when its transaction
 * commits (mc_limit_slots_note_started), as a claim would.
 *
 * Since tasks stop running only after they started, a count stays an upper
 * bound as it ages if what "ended" grew by since is added: each slot keeps
 * its type's last exact count, with the "ended" read before it, and a
 * claim counts the running tasks again only when that bound would hold it
 * back (mc_limit_slots_cached).  A count is kept with the version of the
 * type's limits (its executors row's xmin) it was made under: the claims
 * of a type without limits add nothing to "ended", so when limits are set
 * again, the type's running tasks are counted again.  So a limit that
 * does not bind costs a
 * claim no count of the running tasks (a read of every running task of
 * the type), and one that binds is counted at each claim.
 *
 * A transaction that claimed tasks of a limited type, or set tasks
 * running, cannot be prepared (two-phase commit): its tasks would leave
 * inflight, or never be added to "ended", before they are visible.
 *
 * Slots are found by a 64-bit hash of the agent type (two types with the
 * same hash would share a slot, and their claims would only take fewer).
 * A slot no transaction holds a reservation in may be taken by another
 * type when the types' probes find no free slot: its bucket starts full
 * again.  A restart empties the table: every bucket starts full.
 *
 * Where the table is absent (the library not preloaded) and on Citus,
 * whose transactions commit on other nodes after this one, agent_limits.c
 * locks the types' executors rows instead.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "common/hashfn.h"
#include "port/atomics.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "limit_slots.h"

/* slots of the table, and probes from a type's first slot */
#define MC_LIMIT_SLOTS 1024
#define MC_LIMIT_PROBES 16

/* one agent type with limits */
typedef struct McLimitSlot
{
	uint64		key;			/* hash of the agent type; 0: free */
	int32		inflight;		/* reserved or taken by claims not yet ended */
	double		tokens;			/* the rate's bucket at "at" */
	TimestampTz at;				/* 0: the bucket is full (not used yet) */
	int32		counted;		/* its running tasks at its last exact count
								 * (-1: none) */
	uint64		counted_ended;	/* "ended" read before that count */
	uint32		counted_xmin;	/* the limits' row version it was made under */
} McLimitSlot;

typedef struct McLimitTable
{
	slock_t		mutex;			/* protects the slots */
	pg_atomic_uint64 ended;		/* tasks of limited types whose claims
								 * committed, since the server started */
	McLimitSlot slots[MC_LIMIT_SLOTS];
} McLimitTable;

static McLimitTable *table = NULL;

/*
 * What this backend's transaction holds in the table: per slot, what it
 * reserved or took, and in which subtransaction.
 */
typedef struct McLimitEntry
{
	int			slot;			/* -1: tasks set running without a claim */
	int32		n;
	SubTransactionId subid;
} McLimitEntry;

static McLimitEntry *entries = NULL;
static int	nentries = 0;
static int	maxentries = 0;

/*
 * mc_limit_slots_shmem_size
 *		Bytes of shared memory the table needs.
 */
Size
mc_limit_slots_shmem_size(void)
{
	return sizeof(McLimitTable);
}

/*
 * mc_limit_slots_shmem_init
 *		Creates or attaches to the table (from the shmem startup hook, which
 *		holds AddinShmemInitLock).
 */
void
mc_limit_slots_shmem_init(void)
{
	bool		found;

	table = ShmemInitStruct("mycelium limit slots", sizeof(McLimitTable), &found);
	if (!found)
	{
		memset(table, 0, sizeof(McLimitTable));
		SpinLockInit(&table->mutex);
		pg_atomic_init_u64(&table->ended, 0);
	}
}

/*
 * mc_limit_slots_available
 *		Whether the table is in shared memory (the library preloaded).
 */
bool
mc_limit_slots_available(void)
{
	return table != NULL;
}

/*
 * mc_limit_slots_ended
 *		The tasks of limited types whose claims have committed so far: read
 *		before counting the running tasks (step 1 above).
 */
uint64
mc_limit_slots_ended(void)
{
	pg_memory_barrier();
	return pg_atomic_read_u64(&table->ended);
}

/*
 * release_entries
 *		Takes this backend's entries of subtransaction subid (or all, with
 *		InvalidSubTransactionId) out of the table: added to "ended" when
 *		their transaction committed, their tokens given back when it
 *		aborted.
 */
static void
release_entries(SubTransactionId subid, bool committed)
{
	uint64		total = 0;
	int			i;
	int			kept = 0;

	for (i = 0; i < nentries; i++)
		if (subid == InvalidSubTransactionId || entries[i].subid == subid)
			total += entries[i].n;

	/* first "ended", then inflight: see the file's header */
	if (committed && total > 0)
		pg_atomic_fetch_add_u64(&table->ended, total);

	SpinLockAcquire(&table->mutex);
	for (i = 0; i < nentries; i++)
	{
		McLimitSlot *s = &table->slots[Max(entries[i].slot, 0)];

		if (subid != InvalidSubTransactionId && entries[i].subid != subid)
		{
			entries[kept++] = entries[i];
			continue;
		}
		if (entries[i].slot < 0)
			continue;
		s->inflight -= entries[i].n;
		if (!committed && s->at != 0)
			s->tokens += entries[i].n;
	}
	SpinLockRelease(&table->mutex);
	nentries = kept;
}

/*
 * at_xact_end
 *		Transaction callback: releases what the transaction holds in the
 *		table, and refuses to prepare a transaction that took tasks.
 */
static void
at_xact_end(XactEvent event, void *arg)
{
	int			i;

	if (nentries == 0)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			release_entries(InvalidSubTransactionId, true);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			release_entries(InvalidSubTransactionId, false);
			break;
		case XACT_EVENT_PRE_PREPARE:
			for (i = 0; i < nentries; i++)
				if (entries[i].n > 0 && entries[i].slot >= 0)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot PREPARE a transaction that claimed tasks of an agent type with limits")));
				else if (entries[i].n > 0)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot PREPARE a transaction that set tasks running")));
			nentries = 0;
			break;
		default:
			break;
	}
}

/*
 * at_subxact_end
 *		Subtransaction callback: what a subtransaction that aborts reserved
 *		or took is released; what one that commits holds passes to its
 *		parent.
 */
static void
at_subxact_end(SubXactEvent event, SubTransactionId mySubid,
			   SubTransactionId parentSubid, void *arg)
{
	int			i;

	if (nentries == 0)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		release_entries(mySubid, false);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		for (i = 0; i < nentries; i++)
			if (entries[i].subid == mySubid)
				entries[i].subid = parentSubid;
}

/*
 * make_room
 *		Makes room for n more entries in this backend's list, and registers
 *		the callbacks, before anything is reserved (nothing may fail
 *		between a reservation and its entry).
 */
static void
make_room(int n)
{
	static bool registered = false;

	if (!registered)
	{
		RegisterXactCallback(at_xact_end, NULL);
		RegisterSubXactCallback(at_subxact_end, NULL);
		registered = true;
	}
	if (nentries + n <= maxentries)
		return;
	maxentries = Max(16, 2 * (nentries + n));
	if (entries == NULL)
		entries = MemoryContextAlloc(TopMemoryContext,
									 sizeof(McLimitEntry) * maxentries);
	else
		entries = repalloc(entries, sizeof(McLimitEntry) * maxentries);
}

/*
 * add_entry
 *		Adds n to this backend's entry for slot in subtransaction subid,
 *		made if there is none (make_room has made room for it), and returns
 *		its place: a transaction that claims many times holds one entry per
 *		slot and subtransaction.
 */
static int
add_entry(int slot, int32 n, SubTransactionId subid)
{
	int			i;

	for (i = nentries - 1; i >= 0; i--)
		if (entries[i].slot == slot && entries[i].subid == subid)
		{
			entries[i].n += n;
			return i;
		}
	entries[nentries].slot = slot;
	entries[nentries].n = n;
	entries[nentries].subid = subid;
	return nentries++;
}

/*
 * find_slot
 *		The slot of the agent type whose hash is key: its own, else a free
 *		one, else one no transaction holds anything in (emptied for it);
 *		-1 when every probe is held.  The caller holds the mutex.
 */
static int
find_slot(uint64 key)
{
	int			first = (int) (key % MC_LIMIT_SLOTS);
	int			free_slot = -1;
	int			idle_slot = -1;
	int			p;

	for (p = 0; p < MC_LIMIT_PROBES; p++)
	{
		int			i = (first + p) % MC_LIMIT_SLOTS;
		McLimitSlot *s = &table->slots[i];

		if (s->key == key)
			return i;
		if (s->key == 0 && free_slot < 0)
			free_slot = i;
		if (s->key != 0 && s->inflight == 0 && idle_slot < 0)
			idle_slot = i;
	}
	if (free_slot < 0)
		free_slot = idle_slot;
	if (free_slot >= 0)
	{
		McLimitSlot *s = &table->slots[free_slot];

		s->key = key;
		s->inflight = 0;
		s->tokens = 0;
		s->at = 0;
		s->counted = -1;
		s->counted_ended = 0;
	}
	return free_slot;
}

/*
 * type_key
 *		The slot key of an agent type: a 64-bit hash of its name, never 0.
 */
static uint64
type_key(const char *agent_type)
{
	uint64		key = hash_bytes_extended((const unsigned char *) agent_type,
										  strlen(agent_type), 0);

	return key == 0 ? 1 : key;
}

/*
 * mc_limit_slots_cached
 *		Fills in, for each of the n agent types of asks with a max_running,
 *		the running count its slot keeps (running and ended_before), or -1
 *		where there is none or where, aged by what "ended" grew by since, it
 *		would leave the claim fewer than cap: those are to be counted again.
 *		Returns whether any is.  The first step of a claim's reservation: it
 *		sets each ask's slot key, which mc_limit_slots_reserve uses.
 */
bool
mc_limit_slots_cached(McLimitAsk *asks, int n, int cap)
{
	bool		any = false;
	uint64		ended;
	int			i;

	for (i = 0; i < n; i++)
		asks[i].key = type_key(asks[i].agent_type);
	SpinLockAcquire(&table->mutex);
	ended = pg_atomic_read_u64(&table->ended);
	for (i = 0; i < n; i++)
	{
		McLimitAsk *a = &asks[i];
		int			slot;

		a->running = -1;
		if (a->max_running < 0)
		{
			a->running = 0;
			continue;
		}
		slot = find_slot(asks[i].key);
		if (slot >= 0 && table->slots[slot].counted >= 0 &&
			table->slots[slot].counted_xmin == a->limits_xmin &&
			(double) table->slots[slot].counted +
			(double) (ended - table->slots[slot].counted_ended) +
			table->slots[slot].inflight + cap <= a->max_running)
		{
			a->running = table->slots[slot].counted;
			a->ended_before = table->slots[slot].counted_ended;
			a->exact = false;	/* nothing new to keep */
		}
		any |= a->running < 0;
	}
	SpinLockRelease(&table->mutex);
	return any;
}

/*
 * mc_limit_slots_reserve
 *		Steps 3 of the file's header for the n agent types of asks, whose
 *		running tasks were counted after "ended" read ended_before (their
 *		keys set by mc_limit_slots_cached): reserves
 *		for the claim, for each, what its limits leave (no more than cap),
 *		and notes it in this backend's list, in the current subtransaction.
 *		An exact count is kept in the slot for the claims that follow.
 */
void
mc_limit_slots_reserve(McLimitAsk *asks, int n, int cap)
{
	TimestampTz now = GetCurrentTimestamp();
	SubTransactionId subid = GetCurrentSubTransactionId();
	uint64		ended;
	int			i;

	make_room(n);

	SpinLockAcquire(&table->mutex);
	ended = pg_atomic_read_u64(&table->ended);
	for (i = 0; i < n; i++)
	{
		McLimitAsk *a = &asks[i];
		int			slot = find_slot(asks[i].key);
		double		allow = cap;

		a->reserved = 0;
		a->entry = -1;
		if (slot < 0)
			continue;			/* every probe held: none this time */
		if (a->max_running >= 0)
		{
			McLimitSlot *s = &table->slots[slot];

			allow = Min(allow, (double) a->max_running - a->running -
						(double) (ended - a->ended_before) - s->inflight);
			if (a->exact && (s->counted < 0 || s->counted_xmin != a->limits_xmin ||
							 s->counted_ended <= a->ended_before))
			{
				s->counted = a->running;
				s->counted_ended = a->ended_before;
				s->counted_xmin = a->limits_xmin;
			}
		}
		if (a->rate > 0)
		{
			McLimitSlot *s = &table->slots[slot];
			double		burst = Max(1.0, ceil(a->rate / 10.0));

			if (s->at == 0)
				s->tokens = burst;
			else if (now > s->at)
				s->tokens = Min(burst, s->tokens + a->rate *
								((double) (now - s->at) / USECS_PER_SEC) /
								a->rate_per);
			else
				s->tokens = Min(burst, s->tokens);
			s->at = Max(now, s->at);
			allow = Min(allow, floor(s->tokens));
		}
		a->reserved = (int32) Max(allow, 0);
		table->slots[slot].inflight += a->reserved;
		if (a->rate > 0)
			table->slots[slot].tokens -= a->reserved;
		a->entry = add_entry(slot, a->reserved, subid);
	}
	SpinLockRelease(&table->mutex);
}

/*
 * mc_limit_slots_settle
 *		Step 4: gives back what each ask reserved beyond what the claim
 *		took of its type (taken[i]); what it took stays held until the
 *		transaction ends.  A claim that failed before settling holds what it
 *		reserved until its (sub)transaction aborts.
 */
void
mc_limit_slots_settle(McLimitAsk *asks, int n, const int32 *taken)
{
	int			i;

	SpinLockAcquire(&table->mutex);
	for (i = 0; i < n; i++)
	{
		McLimitAsk *a = &asks[i];
		int32		back;
		McLimitSlot *s;

		if (a->entry < 0)
			continue;
		s = &table->slots[entries[a->entry].slot];
		back = a->reserved - Min(taken[i], a->reserved);
		s->inflight -= back;
		if (a->rate > 0)
			s->tokens += back;
		entries[a->entry].n -= back;
	}
	SpinLockRelease(&table->mutex);
}

/*
 * mc_limit_slots_note_started
 *		Notes a task set running without a claim (update_task, a workflow
 *		executed in a session): when the transaction commits, it adds one to
 *		"ended", as a claim's tasks do, so that no count kept in a slot
 *		misses it (of whatever type: every kept count only grows by one).
 */
void
mc_limit_slots_note_started(void)
{
	if (table == NULL)
		return;
	make_room(1);
	(void) add_entry(-1, 1, GetCurrentSubTransactionId());
}
