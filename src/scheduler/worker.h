/*-------------------------------------------------------------------------
 *
 * worker.h
 *		The scheduler's executor workers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_WORKER_H
#define MC_WORKER_H

#include "fmgr.h"

extern PGDLLEXPORT void mc_worker_main(Datum main_arg);

#endif							/* MC_WORKER_H */
