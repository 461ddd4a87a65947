"""Users, roles, scope, tokens and API keys: who may see and do what."""
