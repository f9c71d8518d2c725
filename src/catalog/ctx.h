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
 * or, for a statement that hands out a single attempt, selected beside
 * them (MC_CTX_INLINE_COLUMNS) and found there by mc_ctx_sources_inline.
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

/*
 * What the ctx of task row t takes from other rows, for a statement that
 * selects it right after t's MC_CTX_COLUMNS (mc_ctx_sources_inline): the
 * context and variables of t's workflow row w, and the handoff messages
 * to t's agent, in the order they were sent, as a jsonb array (NULL for
 * none).  One index probe per row, where mc_ctx_sources reads each
 * workflow and agent once for all of a statement's rows in statements of
 * their own: for statements that hand out one attempt (external agents'
 * one-task claims).
 */
#define MC_CTX_INLINE_COLUMNS(t, w) \
	w ".context, " w ".variables, " \
	"(SELECT pg_catalog.jsonb_agg(m.message ORDER BY m.seq) FROM mycelium.handoffs m " \
	"  WHERE m.workflow_id = " t ".workflow_id AND m.target_agent_id = " t ".agent_id " \
	"    AND m.target_agent_type = " t ".agent_type) "
#define MC_CTX_INLINE_NCOLUMNS 3

/* what the ctx of the attempts in the rows of one statement read (ctx.c) */
typedef struct McCtxSources McCtxSources;

extern McCtxSources *mc_ctx_sources(uint64 rows, int col);
extern McCtxSources *mc_ctx_sources_inline(uint64 rows, int col);
extern Jsonb *mc_ctx_from_row(uint64 row, int col, McCtxSources *sources,
							  char **too_large);

#endif							/* MC_CTX_H */
