"""The Frontline event contract: envelope, event types, versions, upcasters, JSON Schema export.

Imports nothing else of Frontline.
"""
