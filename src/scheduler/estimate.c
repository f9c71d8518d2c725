/*-------------------------------------------------------------------------
 *
 * estimate.c
 *		What an executor's attempts take: the length of each executor
 *		function's last attempts, kept in shared memory.
 *
 * A worker claims ahead only as many tasks as it expects to run within
 * mycelium.batch_time, judging by the attempts it ran last (dispatch.c).
 * That guess says nothing about the tasks it is about to claim: having
 * just run quick ones, it may claim several long ones and run them in
 * turn.  Every worker notes here how long each attempt took, per executor,
 * so that after claiming, a worker can tell which of its claims are long
 * ones and hand back those that would wait behind them.
 *
 * The table is small and lossy: a fixed array of slots, found by the
 * executor's OID through a few probes; an executor that finds no slot
 * takes its first probe's, forgetting what was there.  A forgotten or
 * stale estimate only makes a worker guess as it would without one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "estimate.h"

/* slots of the table, and probes from an executor's first slot */
#define MC_ESTIMATE_SLOTS 1024
#define MC_ESTIMATE_PROBES 8

/* attempts kept per executor */
#define MC_ESTIMATE_RECENT 4

/*
 * attempts noted before an estimate is given: the first attempt of an
 * executor in a fresh server loads and plans its function, and may take a
 * thousand times as long as the next
 */
#define MC_ESTIMATE_MIN_ATTEMPTS 2

typedef struct McEstimate
{
	Oid			executor;		/* InvalidOid: a free slot */
	uint64		nattempts;		/* attempts noted */
	int64		recent_us[MC_ESTIMATE_RECENT];	/* the last ones' lengths */
} McEstimate;

typedef struct McEstimates
{
	slock_t		mutex;
	McEstimate	slots[MC_ESTIMATE_SLOTS];
} McEstimates;

static McEstimates *estimates = NULL;

/*
 * mc_estimate_shmem_size
 *		Bytes of shared memory the table needs.
 */
Size
mc_estimate_shmem_size(void)
{
	return sizeof(McEstimates);
}

/*
 * mc_estimate_shmem_init
 *		Creates or attaches to the table (from the shmem startup hook, which
 *		holds AddinShmemInitLock).
 */
void
mc_estimate_shmem_init(void)
{
	bool		found;

	estimates = ShmemInitStruct("mycelium estimates", sizeof(McEstimates), &found);
	if (!found)
	{
		memset(estimates, 0, sizeof(McEstimates));
		SpinLockInit(&estimates->mutex);
	}
}

/*
 * find_slot
 *		The slot of an executor, or with enter, a slot for it (free, or the
 *		first probe's, taken over); NULL when it has none.  The caller holds
 *		the mutex.
 */
static McEstimate *
find_slot(Oid executor, bool enter)
{
	uint32		first = hash_bytes_uint32((uint32) executor) % MC_ESTIMATE_SLOTS;
	McEstimate *slot = NULL;
	int			i;

	for (i = 0; i < MC_ESTIMATE_PROBES; i++)
	{
		slot = &estimates->slots[(first + i) % MC_ESTIMATE_SLOTS];
		if (slot->executor == executor)
			return slot;
		if (slot->executor == InvalidOid)
			break;
	}
	if (!enter)
		return NULL;
	if (slot->executor != InvalidOid)
		slot = &estimates->slots[first];
	slot->executor = executor;
	slot->nattempts = 0;
	return slot;
}

/*
 * mc_estimate_note
 *		Notes that an attempt of executor took us microseconds.
 */
void
mc_estimate_note(Oid executor, int64 us)
{
	McEstimate *slot;

	if (estimates == NULL || !OidIsValid(executor))
		return;
	SpinLockAcquire(&estimates->mutex);
	slot = find_slot(executor, true);
	slot->recent_us[slot->nattempts++ % MC_ESTIMATE_RECENT] = Max(us, 0);
	SpinLockRelease(&estimates->mutex);
}

/*
 * mc_estimate_get
 *		How long an attempt of executor is expected to take, in
 *		microseconds: the shortest of its last MC_ESTIMATE_RECENT attempts,
 *		so that one slow attempt (a first call, a lock waited for) does not
 *		make a quick executor look long; -1 until MC_ESTIMATE_MIN_ATTEMPTS
 *		of its attempts are known.
 */
int64
mc_estimate_get(Oid executor)
{
	McEstimate *slot;
	int64		us = -1;

	if (estimates == NULL || !OidIsValid(executor))
		return -1;
	SpinLockAcquire(&estimates->mutex);
	slot = find_slot(executor, false);
	if (slot != NULL && slot->nattempts >= MC_ESTIMATE_MIN_ATTEMPTS)
	{
		int			n = (int) Min(slot->nattempts, MC_ESTIMATE_RECENT);
		int			i;

		us = slot->recent_us[0];
		for (i = 1; i < n; i++)
			us = Min(us, slot->recent_us[i]);
	}
	SpinLockRelease(&estimates->mutex);
	return us;
}
