"""Document types of your own: schemas and their checks registered through the API.

definition.py  SchemaDefinition (the POST body), vet (all of it, at registration),
               CustomSpec and build_spec (a stored definition as a SchemaSpec)
vetting.py     the JSON Schema: the chat guard, then every string and array bounded
store.py       versions in the key store's database (SQLite or PostgreSQL)
registry.py    SchemaRegistry: built-ins and registered kinds by name and version, cached
routes.py      GET/POST/PUT/DELETE /v1/schemas
"""

from .definition import CustomSpec, SchemaDefinition, build_spec, vet
from .registry import SchemaRegistry
from .routes import router
from .store import SchemaStore, StoredSchema, schema_store_for

__all__ = [
    "CustomSpec",
    "SchemaDefinition",
    "SchemaRegistry",
    "SchemaStore",
    "StoredSchema",
    "build_spec",
    "router",
    "schema_store_for",
    "vet",
]
