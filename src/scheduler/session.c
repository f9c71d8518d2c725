/*-------------------------------------------------------------------------
 *
 * session.c
 *		Clearing what an attempt leaves in a worker's session, so that
 *		nothing of it reaches the later attempts the worker runs, of the
 *		same role or of others.
 *
 * A worker runs the attempts of every role in one session.  What an
 * attempt can leave there, and what is done about it after each attempt:
 *
 * - settings it SET (without LOCAL), or set with set_config(..., false):
 *   undone already when the attempt ends, since the executor is called at
 *   its own GUC nesting level and that level is always rolled back
 *   (execute.c);
 * - temporary objects (a pg_temp function another role's task could call,
 *   temporary tables): dropped, as DISCARD TEMP does, but only when the
 *   transaction used the temporary schema (XACT_FLAGS_ACCESSEDTEMPNAMESPACE),
 *   which costs nothing for the attempts that did not;
 * - session-level advisory locks, kept even when the attempt's
 *   subtransaction is rolled back: released, as pg_advisory_unlock_all();
 * - prepared statements and LISTEN registrations: dropped, as DEALLOCATE
 *   ALL and UNLISTEN * do; each is a no-op when there are none.
 *
 * That is DISCARD ALL but for the plan cache and the sequence caches,
 * which hold nothing another role could use (cached plans are checked
 * against the role that runs them; currval and lastval check the
 * sequence's privileges), and for the session authorization, which a
 * security-restricted operation cannot change.  The work is done in the
 * worker's transaction, as the worker's role, after the attempt's
 * subtransaction ended; the drops commit or abort with that transaction.
 *
 * execute_workflow, which runs tasks in the caller's own session as the
 * caller, does not do this: what they leave is the caller's, as with any
 * function it calls.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/async.h"
#include "commands/prepare.h"
#include "storage/lock.h"

#include "session.h"

/*
 * mc_session_reset
 *		Clears what the attempt that just ended left in the session (see
 *		the file header).  Called in the transaction that ran it.
 */
void
mc_session_reset(void)
{
	if ((MyXactFlags & XACT_FLAGS_ACCESSEDTEMPNAMESPACE) != 0)
		ResetTempTableNamespace();
	LockReleaseSession(USER_LOCKMETHOD);
	DropAllPreparedStatements();
	Async_UnlistenAll();
}
