/*-------------------------------------------------------------------------
 *
 * citus_attempts.h
 *		The statements that start and end many attempts at once, one
 *		statement per workflow, as they run on Citus
 *		(src/catalog/citus_attempts.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_CITUS_ATTEMPTS_H
#define MC_CITUS_ATTEMPTS_H

#include "agent_limits.h"
#include "catalog.h"

extern uint64 mc_citus_claim_run(McCatalogSession *session, int n, Datum *ids,
								 Datum *limits, Datum *afters, Datum *bases,
								 Datum *prios, Datum *hfirsts, Datum *hcounts,
								 Datum *held, int cap, const char *worker_id,
								 const char *agent_type, Interval *lease,
								 McLimits *typelimits);
extern uint64 mc_citus_complete_rows(int n, Datum *ids, Datum *nos,
									 Datum *results, Datum *ms);
extern uint64 mc_citus_record_completions(McCatalogSession *session, int n,
										  Datum *ids, Datum *nos,
										  Datum *results, Datum *versions,
										  const char *event);
extern uint64 mc_citus_record_completed_batch(McCatalogSession *session, int n,
											  Datum *ids, Datum *nos,
											  Datum *versions);
extern void mc_citus_release_held_tasks(int n, Datum *ids, Datum *nos);
extern uint64 mc_citus_lock_tasks(int n, Datum *ids, Datum *nos,
								  Datum *attempts, const char *worker_id);
extern uint64 mc_citus_hold_tasks(int n, Datum *wids, Datum *tids);

#endif							/* MC_CITUS_ATTEMPTS_H */
