"""Writes the EventBridge schema registry entries in template.yaml from schemas/events/.

The JSON Schemas in ``schemas/events/`` are the contract. EventBridge's registry
takes OpenAPI 3.0 documents (the format its own discovered schemas use), so each
detail schema is converted: ``const`` becomes a one-value ``enum``, a
``["string", "null"]`` type becomes ``nullable``, ``$defs`` move to components.
The generated block sits between two marker comments in the template;
``tests/unit/test_event_schemas_registry.py`` fails when it is out of date.

Usage: python scripts/sync_event_schemas.py [--check]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas" / "events"
TEMPLATE = ROOT / "template.yaml"
BEGIN = "  # BEGIN generated event schemas (scripts/sync_event_schemas.py)\n"
END = "  # END generated event schemas\n"


def _name(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", title.title())


def _openapi(node: Any, defs_prefix: str) -> Any:
    if isinstance(node, list):
        return [_openapi(item, defs_prefix) for item in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("$schema", "$id", "$defs") or key.startswith("x-"):
            continue
        if key == "const":
            converted["enum"] = [value]
        elif key == "type" and isinstance(value, list):
            kinds = [k for k in value if k != "null"]
            converted["type"] = kinds[0] if len(kinds) == 1 else "object"
            if "null" in value:
                converted["nullable"] = True
        elif key == "$ref" and isinstance(value, str):
            converted["$ref"] = value.replace("#/$defs/", f"#/components/schemas/{defs_prefix}")
        else:
            converted[key] = _openapi(value, defs_prefix)
    return converted


def registry_document(schema: dict[str, Any]) -> dict[str, Any]:
    """One OpenAPI 3.0 document: the EventBridge envelope with this detail."""
    name = _name(schema["title"])
    components: dict[str, Any] = {
        "AWSEvent": {
            "type": "object",
            "required": ["detail-type", "source", "detail", "id", "time", "account", "region"],
            "properties": {
                "detail": {"$ref": f"#/components/schemas/{name}"},
                "detail-type": {"type": "string", "enum": [schema["x-detail-type"]]},
                "source": {"type": "string", "enum": [schema["x-source"]]},
                "id": {"type": "string"},
                "time": {"type": "string", "format": "date-time"},
                "account": {"type": "string"},
                "region": {"type": "string"},
                "resources": {"type": "array", "items": {"type": "string"}},
                "version": {"type": "string"},
            },
        },
        name: _openapi(schema, f"{name}_"),
    }
    for def_name, definition in schema.get("$defs", {}).items():
        components[f"{name}_{def_name}"] = _openapi(definition, f"{name}_")
    return {
        "openapi": "3.0.0",
        "info": {"title": schema["x-detail-type"], "version": "1.0.0"},
        "paths": {},
        "components": {"schemas": components},
    }


def generated_block() -> str:
    lines = [BEGIN]
    lines.append("  TriggerSchemaRegistry:\n")
    lines.append("    Type: AWS::EventSchemas::Registry\n")
    lines.append("    Properties:\n")
    lines.append('      RegistryName: !Sub "${AWS::StackName}-triggers"\n')
    lines.append("      Description: Detail contracts of the connector's trigger events\n")
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = json.loads(path.read_text())
        content = json.dumps(registry_document(schema), separators=(",", ":"), sort_keys=True)
        logical_id = _name(path.stem.replace(".", " ")) + "Schema"
        lines.append(f"  {logical_id}:\n")
        lines.append("    Type: AWS::EventSchemas::Schema\n")
        lines.append("    Properties:\n")
        lines.append("      RegistryName: !GetAtt TriggerSchemaRegistry.RegistryName\n")
        schema_name = f"{schema['x-source']}@{_name(schema['title'])}"
        lines.append(f"      SchemaName: {json.dumps(schema_name)}\n")
        lines.append("      Type: OpenApi3\n")
        lines.append(f"      Description: {json.dumps(schema['description'][:256])}\n")
        lines.append(f"      Content: {json.dumps(content)}\n")
    lines.append(END)
    return "".join(lines)


def synced_template(text: str) -> str:
    if BEGIN in text:
        start, end = text.index(BEGIN), text.index(END) + len(END)
        return text[:start] + generated_block() + text[end:]
    anchor = "  # --- Functions"
    return text.replace(anchor, generated_block() + "\n" + anchor, 1)


def main() -> int:
    current = TEMPLATE.read_text()
    wanted = synced_template(current)
    if "--check" in sys.argv:
        if wanted != current:
            print("template.yaml's event schemas are out of date: run "
                  "python scripts/sync_event_schemas.py")
            return 1
        return 0
    TEMPLATE.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
