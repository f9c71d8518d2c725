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

/* the protocol_version every message of this protocol carries */
#define MC_HANDOFF_PROTOCOL_VERSION "1.0"

/* what create_handoff is given; context and metadata are objects */
typedef struct McHandoffParts
{
	const char *source_agent_id;
	const char *source_agent_type;
	const char *target_agent_id;
	const char *target_agent_type;
	const char *task_description;
	Jsonb	   *context;
	Jsonb	   *metadata;
	Jsonb	   *progress;		/* NULL: no progress reported */
} McHandoffParts;

extern Jsonb *mc_handoff_schema(void);
extern Jsonb *mc_handoff_create(const McHandoffParts *parts);
extern void mc_handoff_validate(Jsonb *message);
extern char *mc_handoff_serialize(Jsonb *message);
extern Jsonb *mc_handoff_parse(const char *text, size_t len);

#endif							/* MC_HANDOFF_H */
