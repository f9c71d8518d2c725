/*-------------------------------------------------------------------------
 *
 * version.h
 *		Whether the catalog installed in the database is the one this
 *		library was built for.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_VERSION_H
#define MC_VERSION_H

/* the extension version this library was built for (from the Makefile) */
#ifndef MC_EXTVERSION
#error "MC_EXTVERSION must be defined by the build"
#endif

/* what the database holds, as the scheduler sees it */
typedef enum McExtensionState
{
	MC_EXT_MISSING,				/* no CREATE EXTENSION yet */
	MC_EXT_OTHER_VERSION,		/* installed, but not the library's version */
	MC_EXT_CURRENT,				/* installed at the library's version */
	MC_EXT_CITUS_WORKER			/* current, but on a Citus worker node (the
								 * launcher's; mc_extension_state never says it) */
} McExtensionState;

extern McExtensionState mc_extension_state(char **installed);
extern void mc_require_current_catalog(void);

#endif							/* MC_VERSION_H */
