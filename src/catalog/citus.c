/*-------------------------------------------------------------------------
 *
 * citus.c
 *		What mycelium needs to know about Citus, when it runs on a Citus
 *		cluster (doc/internals.md, "Running on Citus").
 *
 * Mycelium does not link to Citus and works the same without it.  Where
 * the extension "citus" exists in the database, two things change: the
 * catalog's statements are prepared for custom plans, since Citus cannot
 * distribute most statements planned as generic plans (it needs the
 * parameters' values to route a statement to its shard), and the launcher
 * of a Citus worker node stays idle, since the coordinator runs the
 * scheduler for the whole cluster.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "storage/proc.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"

#include "citus.h"

/*
 * citus_preloaded
 *		Whether the citus library is in shared_preload_libraries, the only
 *		way Citus can be loaded.  Read once per process: the setting is
 *		fixed while the server runs.
 */
static bool
citus_preloaded(void)
{
	static int	preloaded = -1;

	if (preloaded < 0)
	{
		char	   *copy = pstrdup(shared_preload_libraries_string ?
								   shared_preload_libraries_string : "");
		List	   *names = NIL;
		ListCell   *lc;

		preloaded = 0;
		if (SplitDirectoriesString(copy, ',', &names))
		{
			foreach(lc, names)
			{
				char	   *name = (char *) lfirst(lc);
				char	   *base = strrchr(name, '/');

				base = base ? base + 1 : name;
				if (strcmp(base, "citus") == 0 || strcmp(base, "citus.so") == 0)
					preloaded = 1;
			}
		}
		list_free_deep(names);
		pfree(copy);
	}
	return preloaded == 1;
}

/*
 * mc_citus_present
 *		Whether the extension "citus" is created in this database.  Without
 *		the citus library preloaded it cannot be, and that costs nothing to
 *		tell; with it, the extension is looked up once per transaction (an
 *		index lookup in pg_extension).
 */
bool
mc_citus_present(void)
{
	static LocalTransactionId checked_in = InvalidLocalTransactionId;
	static bool present = false;

	if (!citus_preloaded() || !IsTransactionState())
		return false;
	if (MyProc == NULL || MyProc->lxid != checked_in)
	{
		present = OidIsValid(get_extension_oid("citus", true));
		checked_in = MyProc ? MyProc->lxid : InvalidLocalTransactionId;
	}
	return present;
}

/*
 * mc_citus_worker
 *		Whether this server is a worker node of a Citus cluster: Citus is
 *		created here and the node's group (pg_dist_local_group, which the
 *		coordinator sets when it adds the node) is not the coordinator's, 0.
 *		Called inside a transaction without a snapshot, outside SPI.
 */
bool
mc_citus_worker(void)
{
	bool		worker = false;
	bool		isnull;
	Datum		groupid;

	if (!mc_citus_present())
		return false;
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT groupid FROM pg_catalog.pg_dist_local_group",
					true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		groupid = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								SPI_fnumber(SPI_tuptable->tupdesc, "groupid"),
								&isnull);
		worker = !isnull && DatumGetInt32(groupid) != 0;
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	PopActiveSnapshot();
	return worker;
}
