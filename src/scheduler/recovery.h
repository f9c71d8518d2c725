/*-------------------------------------------------------------------------
 *
 * recovery.h
 *		Attempts that lost their executor count as failed (recovery.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_RECOVERY_H
#define MC_RECOVERY_H

#include "datatype/timestamp.h"

#include "catalog.h"

extern void mc_recover_orphans(McCatalogSession *session, Datum *live,
							   int nlive, bool all);
extern void mc_expire_leases(McCatalogSession *session, TimestampTz now);

#endif							/* MC_RECOVERY_H */
