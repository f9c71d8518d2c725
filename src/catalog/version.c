/*-------------------------------------------------------------------------
 *
 * version.c
 *		Checks that the extension installed in the database is the version
 *		this shared library was built for.
 *
 * A new build is installed and the server restarted before anyone runs
 * ALTER EXTENSION mycelium UPDATE.  Until then the library must not use
 * the catalog: its statements may name tables, columns or types the old
 * catalog lacks.  The scheduler therefore idles (the launcher logs why,
 * once), and the API functions that use the catalog refuse with a HINT
 * saying what to run.  Functions that do not touch the catalog (JSON
 * Schema validation, handoff serialisation) keep working.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "version.h"

/*
 * Whether this backend has already seen the current version installed.
 * Only a match is remembered: going back to an older catalog takes an
 * ALTER EXTENSION ... UPDATE TO, which this library cannot serve anyway.
 */
static bool catalog_current = false;

/*
 * mc_extension_state
 *		What the database holds: no extension, another version, or the
 *		library's version.  With installed non-NULL, sets it to the
 *		installed version (palloc'd), or NULL when there is none.  Must be
 *		called inside a transaction.
 */
McExtensionState
mc_extension_state(char **installed)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	McExtensionState state = MC_EXT_MISSING;

	if (installed)
		*installed = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("mycelium"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);
		char	   *version = isnull ? pstrdup("") : TextDatumGetCString(d);

		state = strcmp(version, MC_EXTVERSION) == 0 ?
			MC_EXT_CURRENT : MC_EXT_OTHER_VERSION;
		if (installed)
			*installed = version;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return state;
}

/*
 * mc_require_current_catalog
 *		Raises an error unless the installed extension is the library's
 *		version, so no statement of this library runs against a catalog
 *		it was not built for.  The extension's own scripts (CREATE and
 *		ALTER EXTENSION) may call into the library while the version
 *		recorded is still changing; they are let through.
 */
void
mc_require_current_catalog(void)
{
	char	   *installed;
	McExtensionState state;

	if (catalog_current || creating_extension)
		return;
	state = mc_extension_state(&installed);
	if (state == MC_EXT_CURRENT)
	{
		catalog_current = true;
		return;
	}
	if (state == MC_EXT_OTHER_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"mycelium\" version %s is installed, but the library is version %s",
						installed, MC_EXTVERSION),
				 errdetail("The catalog must be updated before the library can use it."),
				 errhint("Run ALTER EXTENSION mycelium UPDATE.")));
	/* no extension: mc_catalog_relid says so in its own words */
}
