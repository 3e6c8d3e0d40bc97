-- 005: quota-aware scheduling reads an agent's recent LLM calls to learn its pace.
CREATE INDEX gateway_calls_agent_idx ON outlast.gateway_calls (agent, id) WHERE agent IS NOT NULL;
