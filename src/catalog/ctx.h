/*-------------------------------------------------------------------------
 *
 * ctx.h
 *		The execution context (ctx) of an attempt (SPEC 2): what a
 *		function executor is called with and an external agent's claim
 *		returns.
 *
 * A statement that hands out attempts selects MC_CTX_COLUMNS of its task
 * row t; t's attempt column must be the attempt's number.  What the ctx
 * takes from other rows (the workflow's context and variables, the
 * dependencies' results, the handoff messages to the task's agent) is read
 * for all the statement's rows at once by mc_ctx_sources, a few
 * statements in all, each row read once however many attempts share it;
 * mc_ctx_from_row builds the document of a row from its columns and
 * those sources.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_CTX_H
#define MC_CTX_H

#include "utils/jsonb.h"

#define MC_CTX_COLUMNS(t) \
	t ".workflow_id, " t ".attempt, " \
	t ".task_id, " t ".agent_id, " t ".agent_type, " t ".dependencies, " \
	t ".max_attempts, " t ".initial_delay, " t ".max_delay, " t ".exponential_base, " \
	t ".timeout, " t ".allow_failure, " t ".input, " t ".metadata "
#define MC_CTX_NCOLUMNS 14

/* what the ctx of the attempts in the rows of one statement read (ctx.c) */
typedef struct McCtxSources McCtxSources;

extern McCtxSources *mc_ctx_sources(uint64 rows, int col);
extern Jsonb *mc_ctx_from_row(uint64 row, int col, McCtxSources *sources,
							  char **too_large);

#endif							/* MC_CTX_H */
