/*-------------------------------------------------------------------------
 *
 * citus.h
 *		What mycelium needs to know about Citus (src/catalog/citus.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_CITUS_H
#define MC_CITUS_H

#include "access/tupdesc.h"
#include "utils/uuid.h"

extern bool mc_citus_present(void);
extern bool mc_citus_worker(void);
extern bool mc_citus_catalog_open(void);
extern Datum mc_citus_role_name(Oid roleid);
extern void mc_citus_catalog_close(void);
extern int	mc_citus_insert_tasks(pg_uuid_t *id, TupleDesc desc, Oid arraytype,
								  Datum rows);

#endif							/* MC_CITUS_H */
