"""GraphQL object types, each built around a private table row (never SQLModel classes decorated twice)."""
