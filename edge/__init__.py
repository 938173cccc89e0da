"""The Takt edge agent: reads PLCs (Modbus, OPC UA), stores every sample batch on disk, publishes it over
MQTT and deletes it only when the server acknowledges it (docs/edge.md)."""

__version__ = "0.1.0"
