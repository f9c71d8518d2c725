/*-------------------------------------------------------------------------
 *
 * estimate.h
 *		What an executor's attempts take, learned from the attempts the
 *		workers run and shared between them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_ESTIMATE_H
#define MC_ESTIMATE_H

extern Size mc_estimate_shmem_size(void);
extern void mc_estimate_shmem_init(void);
extern void mc_estimate_note(Oid executor, int64 us);
extern int64 mc_estimate_get(Oid executor);

#endif							/* MC_ESTIMATE_H */
