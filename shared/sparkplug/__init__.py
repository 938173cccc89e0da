"""Sparkplug B (Eclipse Sparkplug 3.0): topics, and payloads through the specification's protobuf."""
