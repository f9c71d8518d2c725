/*-------------------------------------------------------------------------
 *
 * xact_workflows.c
 *		The workflows the current transaction created or locked.
 *
 * execute_workflow and wait_workflow must know whether the workflow they
 * are given is held by their own transaction: one it created, or whose row
 * it locked (every change to a workflow locks its row first).  The
 * scheduler cannot see such a workflow, or change it, before that
 * transaction ends, so waiting for the scheduler would wait for ever:
 * execute_workflow runs it in the session instead, and wait_workflow
 * refuses.
 *
 * The row's xmin used to tell, but on Citus the row is in a shard on a
 * worker, whose transaction ids are not this server's.  So the state
 * module notes here every workflow whose row it locks or inserts, with the
 * subtransaction that did (a subtransaction that aborts releases its
 * locks and its rows, and its notes go with them), and the notes go with
 * the transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "xact_workflows.h"

/* a workflow held by the transaction, and since which subtransaction */
typedef struct HeldWorkflow
{
	pg_uuid_t	id;
	SubTransactionId subid;
} HeldWorkflow;

/* the notes, in the transaction's memory; valid in transaction held_in only */
static HTAB *held = NULL;
static LocalTransactionId held_in = InvalidLocalTransactionId;

/*
 * at_subxact_end
 *		Subtransaction callback: an aborted subtransaction's notes are
 *		dropped, a committed one's pass to its parent.
 */
static void
at_subxact_end(SubXactEvent event, SubTransactionId mySubid,
			   SubTransactionId parentSubid, void *arg)
{
	HASH_SEQ_STATUS scan;
	HeldWorkflow *h;

	if (held == NULL || held_in != MyProc->lxid ||
		(event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB))
		return;
	hash_seq_init(&scan, held);
	while ((h = hash_seq_search(&scan)) != NULL)
	{
		if (h->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_ABORT_SUB)
			(void) hash_search(held, &h->id, HASH_REMOVE, NULL);
		else
			h->subid = parentSubid;
	}
}

/*
 * mc_xact_workflow_held
 *		Notes that the current transaction (its current subtransaction)
 *		created or locked workflow id.  Not in the scheduler's background
 *		workers, which never wait for a workflow, so that their steps pay
 *		nothing for it.
 */
void
mc_xact_workflow_held(const pg_uuid_t *id)
{
	static bool registered = false;
	HeldWorkflow *h;
	bool		found;

	if (IsBackgroundWorker)
		return;
	if (!registered)
	{
		RegisterSubXactCallback(at_subxact_end, NULL);
		registered = true;
	}
	if (held == NULL || held_in != MyProc->lxid)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(pg_uuid_t);
		ctl.entrysize = sizeof(HeldWorkflow);
		ctl.hcxt = TopTransactionContext;
		held = hash_create("mycelium workflows held", 16, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		held_in = MyProc->lxid;
	}
	h = hash_search(held, id, HASH_ENTER, &found);
	if (!found)
		h->subid = GetCurrentSubTransactionId();
}

/*
 * mc_xact_workflow_is_held
 *		Whether the current transaction created or locked workflow id
 *		(and did not roll that back to a savepoint).
 */
bool
mc_xact_workflow_is_held(const pg_uuid_t *id)
{
	if (held == NULL || held_in != MyProc->lxid)
		return false;
	return hash_search(held, id, HASH_FIND, NULL) != NULL;
}
