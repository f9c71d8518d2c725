/*-------------------------------------------------------------------------
 *
 * handoff.h
 *		The handoff protocol: the message format (a JSON Schema), creating,
 *		validating, serializing and parsing messages.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_HANDOFF_H
#define MC_HANDOFF_H

#include "utils/jsonb.h"

/* the version of the messages create_handoff makes */
#define MC_HANDOFF_PROTOCOL_VERSION "1.0"

/* what create_handoff is given; context, state and metadata are objects */
typedef struct McHandoffParts
{
	const char *source_agent_id;
	const char *source_agent_type;
	const char *target_agent_id;
	const char *target_agent_type;
	const char *task_description;	/* NULL: none */
	const char *workflow_id;	/* NULL: none */
	Jsonb	   *context;
	Jsonb	   *state;
	Jsonb	   *metadata;
} McHandoffParts;

extern Jsonb *mc_handoff_schema(void);
extern char *mc_handoff_new_id(void);
extern Jsonb *mc_handoff_create(const McHandoffParts *parts);
extern void mc_handoff_validate(Jsonb *message);
extern char *mc_handoff_serialize(Jsonb *message);
extern Jsonb *mc_handoff_parse(const char *text, size_t len);

#endif							/* MC_HANDOFF_H */
