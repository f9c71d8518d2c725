/*-------------------------------------------------------------------------
 *
 * pool.h
 *		The elastic pool of executor workers, run by the launcher.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_POOL_H
#define MC_POOL_H

#include "catalog.h"

extern void mc_pool_adopt(void);
extern bool mc_pool_recover(McCatalogSession *session, bool all);
extern void mc_pool_free_recovered(void);
extern void mc_pool_grow(void);

#endif							/* MC_POOL_H */
