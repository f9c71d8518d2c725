/*-------------------------------------------------------------------------
 *
 * launcher.h
 *		Registration of the scheduler's background workers, and the
 *		launcher.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_LAUNCHER_H
#define MC_LAUNCHER_H

#include "fmgr.h"

extern void mc_register_workers(void);
extern PGDLLEXPORT void mc_launcher_main(Datum main_arg);

#endif							/* MC_LAUNCHER_H */
