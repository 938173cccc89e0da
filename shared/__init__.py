"""The contract between edge and server: MQTT topics and typed payloads. Nothing else lives here."""
