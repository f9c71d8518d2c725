/*-------------------------------------------------------------------------
 *
 * session.h
 *		Clearing what an attempt leaves in a worker's session.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_SESSION_H
#define MC_SESSION_H

extern void mc_session_reset(void);

#endif							/* MC_SESSION_H */
