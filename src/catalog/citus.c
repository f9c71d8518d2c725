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

#include "access/xact.h"
#include "miscadmin.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "storage/proc.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
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

/*
 * mc_citus_catalog_open
 *		What a catalog session (mc_catalog_open) does on Citus beside the
 *		rest: values travel between the nodes as text, and the session's
 *		statements run in a transaction block.  Returns whether it began
 *		the block, which mc_citus_catalog_close then ends.
 *
 * Role columns (owner, changed_by, ...) are regrole, and a role's OID
 * differs from node to node.  As text a regrole is the role's name, and
 * each node stores and reads it as its own OID of that role: a row a
 * statement writes through the coordinator holds the worker's OID of the
 * role, which the worker's row-level security compares with its own OID
 * of current_user, and a role read back arrives as its name and is the
 * coordinator's OID of that role here.  In binary, Citus would ship the
 * raw OIDs of one node to the other.  Roles are the same on every node
 * (Citus creates them on the workers), so the name means the same role
 * everywhere.  mycelium.distribute() sets the same for the whole database,
 * which covers what users read and Citus' own copies of shards.  The
 * setting is restored with the session's others when it closes.
 *
 * Citus runs the statements of a transaction in one transaction on each
 * worker (and commits them together, in two phases where several workers
 * took part) only inside a transaction block or a function call.  The
 * launcher's and the executor workers' transactions are neither: without
 * a block, Citus would commit each of their statements on its worker at
 * once, so that a step's claims could commit without its history, and a
 * row lock would be released at the end of the statement that took it.
 * An implicit block, as a multi-statement query string has, is enough;
 * an error aborts the whole transaction, as before.
 */
bool
mc_citus_catalog_open(void)
{
	(void) set_config_option("citus.enable_binary_protocol", "off",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (IsTransactionBlock())
		return false;
	BeginImplicitTransactionBlock();
	return true;
}

/*
 * mc_citus_catalog_close
 *		Ends the transaction block mc_citus_catalog_open began: the
 *		transaction commits as its starter commits it.
 */
void
mc_citus_catalog_close(void)
{
	EndImplicitTransactionBlock();
}

/*
 * mc_citus_insert_tasks
 *		The insert of a chunk of a workflow's new task rows (rows, an array
 *		of mycelium.task_states of descriptor desc) on Citus, for
 *		mc_insert_tasks: two INSERT ... SELECT statements from the
 *		workflow's own row, which Citus pushes down to its shard group,
 *		one for task_states and one for task_ids.  Returns the SPI code of
 *		the second.
 *
 * On plain PostgreSQL the rows go in through unnest in one statement.  On
 * Citus such an insert would run on the coordinator and copy the rows to
 * the shard in binary, with the coordinator's OID of the owner, which
 * means another role, or none, on the worker.  Pushed down, the rows
 * reach the worker as the text of the array, where the owner is a name.
 * The distribution column is taken from the workflow's row, as Citus
 * requires of a statement it pushes down.
 */
int
mc_citus_insert_tasks(pg_uuid_t *id, TupleDesc desc, Oid arraytype, Datum rows)
{
	static char *task_sql = NULL;
	Oid			argtypes[2] = {arraytype, UUIDOID};
	Datum		values[2];
	int			rc;

	if (task_sql == NULL)
	{
		StringInfoData cols;
		StringInfoData exprs;
		int			i;

		initStringInfo(&cols);
		initStringInfo(&exprs);
		for (i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);
			const char *name = NameStr(att->attname);

			if (att->attisdropped)
				continue;
			appendStringInfo(&cols, "%s%s", cols.len > 0 ? ", " : "", quote_identifier(name));
			if (strcmp(name, "workflow_id") == 0)
				appendStringInfo(&exprs, "%sw.workflow_id", exprs.len > 0 ? ", " : "");
			else
				appendStringInfo(&exprs, "%sr.%s", exprs.len > 0 ? ", " : "",
								 quote_identifier(name));
		}
		task_sql = MemoryContextStrdup(TopMemoryContext,
									   psprintf("INSERT INTO mycelium.task_states (%s) "
												"SELECT %s FROM mycelium.workflow_states w "
												"CROSS JOIN pg_catalog.unnest($1) AS r "
												"WHERE w.workflow_id = $2",
												cols.data, exprs.data));
	}
	values[0] = rows;
	values[1] = UUIDPGetDatum(id);
	rc = SPI_execute_with_args(task_sql, 2, argtypes, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		return rc;
	return SPI_execute_with_args("INSERT INTO mycelium.task_ids (workflow_id, task_id, task_no) "
								 "SELECT w.workflow_id, r.task_id, r.task_no "
								 "FROM mycelium.workflow_states w "
								 "CROSS JOIN pg_catalog.unnest($1) AS r "
								 "WHERE w.workflow_id = $2",
								 2, argtypes, values, NULL, false, 0);
}

/*
 * mc_citus_role_name
 *		A role as a statement over several shards compares an owner with it
 *		on Citus: its name, quoted as to_regrole() takes it (a text Datum),
 *		for the statement to resolve on each worker.  Citus plans such a
 *		statement on the coordinator and may fold a regrole parameter into
 *		the number of its OID there, which on a worker is another role.
 */
Datum
mc_citus_role_name(Oid roleid)
{
	char	   *name = GetUserNameFromId(roleid, false);

	return CStringGetTextDatum(quote_identifier(name));
}
