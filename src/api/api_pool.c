/*-------------------------------------------------------------------------
 *
 * api_pool.c
 *		SQL-callable view of the executor pool: worker_pool_slots(), behind
 *		the views mycelium.worker_pool, worker_pool_summary and
 *		worker_pool_by_role.
 *
 * The pool lives in shared memory (pool.c, shmem.c): a slot per worker,
 * mycelium.max_workers of them.  This function copies the slots that are
 * not free under the shared spinlock, then builds its rows from the copy,
 * so the lock is held for a few memcpy calls whatever the caller does.
 * A role that is not a member of mycelium_admin sees every worker's state
 * but only its own workflows: the workflow a worker runs, and the roles it
 * holds tasks of, are shown only when they are the caller's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/spin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "catalog.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(mc_worker_pool_slots);

#define POOL_COLUMNS 11

static const char *const slot_state_names[] = {"free", "starting", "running", "exited"};

/*
 * held_owner
 *		The owner of workflow id among the workflows slot holds claims of,
 *		or InvalidOid when it holds none of it.
 */
static Oid
held_owner(const McWorkerSlot *slot, const pg_uuid_t *id)
{
	int			i;

	for (i = 0; i < slot->nheld && i < MC_SLOT_WORKFLOWS; i++)
		if (memcmp(&slot->held[i].id, id, sizeof(pg_uuid_t)) == 0)
			return slot->held[i].owner;
	return InvalidOid;
}

/*
 * slot_roles
 *		The roles slot holds claimed tasks for (the owners of its held
 *		workflows, each once) and how many tasks of each, as two arrays in
 *		values[0] and values[1]; only the caller's own unless admin.
 */
static void
slot_roles(const McWorkerSlot *slot, Oid caller, bool admin, Datum *values)
{
	Datum	   *roles = palloc(sizeof(Datum) * MC_SLOT_WORKFLOWS);
	int32	   *tasks = palloc0(sizeof(int32) * MC_SLOT_WORKFLOWS);
	Datum	   *counts = palloc(sizeof(Datum) * MC_SLOT_WORKFLOWS);
	int			n = 0;
	int			i;
	int			j;

	for (i = 0; i < slot->nheld && i < MC_SLOT_WORKFLOWS; i++)
	{
		Oid			owner = slot->held[i].owner;

		if (!admin && owner != caller)
			continue;
		for (j = 0; j < n; j++)
			if (DatumGetObjectId(roles[j]) == owner)
				break;
		if (j == n)
			roles[n++] = ObjectIdGetDatum(owner);
		tasks[j] += slot->held[i].ntasks;
	}
	for (j = 0; j < n; j++)
		counts[j] = Int32GetDatum(tasks[j]);
	values[0] = PointerGetDatum(construct_array(roles, n, REGROLEOID,
												sizeof(Oid), true, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(counts, n, INT4OID,
												sizeof(int32), true, TYPALIGN_INT));
}

/*
 * mc_worker_pool_slots
 *		worker_pool_slots(): a row per worker slot that is not free: slot,
 *		state, pid, busy (holds claimed tasks), executing (runs an attempt
 *		now), idle (sleeping for work), the workflow, task number and
 *		attempt it runs, and the roles it holds claimed tasks for with how
 *		many.  No rows without shared_preload_libraries.
 */
Datum
mc_worker_pool_slots(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			caller = GetUserId();
	bool		admin = mc_role_is_admin(caller);
	McWorkerSlot *copy;
	int		   *numbers;
	int			ncopy = 0;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (mc_shared == NULL)
		PG_RETURN_VOID();

	copy = palloc(sizeof(McWorkerSlot) * mc_shared->nworkers);
	numbers = palloc(sizeof(int) * mc_shared->nworkers);
	SpinLockAcquire(&mc_shared->mutex);
	for (i = 0; i < mc_shared->nworkers; i++)
	{
		if (mc_shared->workers[i].state == MC_SLOT_FREE)
			continue;
		memcpy(&copy[ncopy], &mc_shared->workers[i], sizeof(McWorkerSlot));
		numbers[ncopy++] = i;
	}
	SpinLockRelease(&mc_shared->mutex);

	for (i = 0; i < ncopy; i++)
	{
		McWorkerSlot *slot = &copy[i];
		Datum		values[POOL_COLUMNS];
		bool		nulls[POOL_COLUMNS];
		bool		running = slot->state == MC_SLOT_RUNNING && slot->pid != 0;
		bool		shown = false;

		memset(nulls, 0, sizeof(nulls));
		if (running && slot->executing)
		{
			Oid			owner = held_owner(slot, &slot->workflow_id);

			shown = admin || (OidIsValid(owner) && owner == caller);
		}
		values[0] = Int32GetDatum(numbers[i]);
		values[1] = CStringGetTextDatum(slot_state_names[slot->state]);
		values[2] = Int32GetDatum(slot->pid);
		nulls[2] = slot->pid == 0;
		values[3] = BoolGetDatum(running && slot->busy);
		values[4] = BoolGetDatum(running && slot->executing);
		values[5] = BoolGetDatum(running && !slot->busy && !slot->executing);
		if (shown)
		{
			pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

			memcpy(id, &slot->workflow_id, sizeof(pg_uuid_t));
			values[6] = UUIDPGetDatum(id);
			values[7] = Int32GetDatum(slot->task_no);
			values[8] = Int32GetDatum(slot->attempt);
		}
		else
			nulls[6] = nulls[7] = nulls[8] = true;
		slot_roles(slot, caller, admin, &values[9]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}
