/*-------------------------------------------------------------------------
 *
 * mycelium_errcodes.h
 *		The SQLSTATE class "MY" of mycelium's own errors.
 *
 * Errors that PostgreSQL already has a code for (a malformed argument,
 * a limit exceeded, a missing privilege) use PostgreSQL's code; these are
 * for failures of orchestration itself.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MYCELIUM_ERRCODES_H
#define MYCELIUM_ERRCODES_H

#include "utils/elog.h"

/* MY000: orchestration error, the base of the class */
#define ERRCODE_MC_ORCHESTRATION		MAKE_SQLSTATE('M','Y','0','0','0')
/* MY001: the task graph is wrong (unknown or self dependency, cycle, ...) */
#define ERRCODE_MC_DEPENDENCY			MAKE_SQLSTATE('M','Y','0','0','1')
/* MY002: a workflow or task failed to execute */
#define ERRCODE_MC_EXECUTION			MAKE_SQLSTATE('M','Y','0','0','2')
/* MY003: the state manager refused a change or found no such object */
#define ERRCODE_MC_STATE				MAKE_SQLSTATE('M','Y','0','0','3')
/* MY004: a handoff message does not follow the protocol */
#define ERRCODE_MC_HANDOFF_VALIDATION	MAKE_SQLSTATE('M','Y','0','0','4')

#endif							/* MYCELIUM_ERRCODES_H */
