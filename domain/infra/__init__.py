"""Infrastructure: where and how the event log is stored, never what the rules decide.

Database URLs, the SQLite store and its write lock, schema-setup locks, the orjson
transcoder. The rules (aggregates, policy, validation, values, errors) never import this
package; the application service and the readers do.
"""
