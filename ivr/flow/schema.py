"""The flow language's fields, in one table: the loader validates against it and
`ivr flows schema` exports it as JSON Schema for editors (VS Code YAML, IntelliJ)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ivr.flow.model import QUEUE_OUTCOMES
from ivr.understanding import INTENTS, URGENT


@dataclass(frozen=True)
class F:
    kind: str  # see _JSON below
    doc: str
    required: bool = False


_PROMPT_DOC = "TTS text, {text, wav}, or a list of them played in order"
_ESCALATE = "escalating messages: the n-th time plays the n-th (the last one repeats)"
_ERRORS = {
    "noinput": F("prompts", "no-input " + _ESCALATE),
    "nomatch": F("prompts", "no-match " + _ESCALATE),
    "max_failures": F("int", "no-input plus no-match before on_failure (default 3)"),
    "on_failure": F("target", "node after max failures (usually an operator queue)"),
    "timeout": F("number", "seconds to wait for the first key or speech (default 5)"),
    "barge_in": F("bool", "keys/speech may interrupt the prompt (default true)"),
}

COMMON = {
    "type": F("type", "node type", required=True),
    "next": F("target", "the node after this one (default: the following node)"),
    "label": F("text", "a short description shown in graphs"),
}

NODES: dict[str, dict[str, F]] = {
    "say": {
        "text": F("template", "text to speak ({caller}, {ticket_id} ... are filled in)"),
        "wav": F("wav", "recorded WAV prompt (the text is the fallback)"),
        "barge_in": F("bool", "a key stops the prompt (default false)"),
    },
    "play": {
        "wav": F("wav", "recorded WAV prompt", required=True),
        "text": F("template", "text spoken if the WAV cannot be played"),
        "barge_in": F("bool", "a key stops the prompt (default false)"),
    },
    "menu": {
        "prompt": F("prompt", _PROMPT_DOC, required=True),
        "reprompt": F("prompt", "shorter prompt for retries (default: the prompt)"),
        "options": F("options", "choices by key and/or speech", required=True),
        "max_noinput": F("int", "no-inputs before on_failure (default: max_failures)"),
        "max_nomatch": F("int", "no-matches before on_failure (default: max_failures)"),
        "min_confidence": F("number", "speech below this confidence counts as no-match"),
        "global_options": F("bool", "also accept the flow's global_options (default true)"),
        **_ERRORS,
    },
    "input": {
        "var": F("name", "variable that receives the value", required=True),
        "format": F("enum:digits|phone|id_card|ticket_no|speech", "preset pattern and length"),
        "prompt": F("prompt", _PROMPT_DOC, required=True),
        "reprompt": F("prompt", "prompt for retries"),
        "min_digits": F("int", "fewest digits"),
        "max_digits": F("int", "most digits"),
        "terminator": F("key", "key that ends the entry (default #)"),
        "pattern": F("regex", "the whole value must match this regular expression"),
        "confirm": F("prompt", "read back and confirm: 1 yes, 2 re-enter ({value} is the entry)"),
        "inter_timeout": F("number", "seconds between keys (default 3)"),
        **_ERRORS,
    },
    "set": {"values": F("vars", "variables to set; values may use {templates}", required=True)},
    "if": {
        "when": F("condition", "condition", required=True),
        "then": F("target", "node when the condition holds", required=True),
        "else": F("target", "node otherwise (default: next)"),
    },
    "switch": {
        "var": F("name", "variable compared with each case's value"),
        "cases": F("cases", "{value: target} with `var`, else a list of {when, next}", required=True),
        "default": F("target", "node when no case matches (default: next)"),
    },
    "goto": {"flow": F("flow", "jump to another flow's start (no return)")},
    "call": {"flow": F("flow", "sub-flow to run; it returns here", required=True)},
    "return": {},
    "hours": {
        "calendar": F("text", "calendar file (default: the flow's calendar)"),
        "open": F("target", "node during business hours (default: next)"),
        "closed": F("target", "node outside business hours (default: next)"),
        "holiday": F("target", "node on a holiday (default: closed)"),
    },
    "queue": {
        "queue": F("queue", "ACD queue from config.toml", required=True),
        "priority": F("int", "higher is served first (default 0)"),
        "skills": F("skills", "required skills and levels"),
        "prompt": F("prompt", "played before joining ({queue.waiting}, {queue.wait_minutes})"),
        "outcomes": F("outcomes", "queue outcome -> node: " + ", ".join(QUEUE_OUTCOMES)),
    },
    "transfer": {
        "number": F("template", "external number", required=True),
        "prompt": F("prompt", "played before transferring"),
        "on_fail": F("target", "node if the transfer fails (default: next)"),
    },
    "record": {
        "prompt": F("prompt", "played before the beep"),
        "var": F("name", "variable that receives the recording's path (default recording)"),
        "max_seconds": F("number", "longest message (default 120)"),
        "silence_seconds": F("number", "silence that ends the message (default 5)"),
        "on_empty": F("target", "node when nothing was recorded"),
    },
    "ticket": {
        "fields": F("fields", "ticket fields; values are {templates}", required=True),
        "var": F("name", "variable that receives the ticket id (default ticket_id)"),
        "on_error": F("target", "node if the ticket cannot be created"),
    },
    "ticket_status": {
        "ticket": F("template", "ticket number, e.g. {ticket_no}", required=True),
        "var": F("name", "variable that receives the status (default ticket_status)"),
        "not_found": F("target", "node when there is no such ticket"),
    },
    "hangup": {"prompt": F("prompt", "said before hanging up")},
}

OPTION = {
    "key": F("key", "DTMF key 0-9, * or #"),
    "speech": F("phrases", "phrases in plain Chinese, with synonyms"),
    "next": F("target", "node for this choice"),
    "set": F("vars", "variables to set when chosen"),
    "repeat": F("bool", "replay the menu (e.g. *)"),
    "intent": F(
        "enum:" + "|".join((*INTENTS, URGENT)),
        "taken when the caller's own words mean this intent (flows/understanding.yaml; 紧急: urgent)",
    ),
    "label": F("text", "name shown in graphs and the transcript"),
}

DEFAULTS = {k: v for k, v in _ERRORS.items()} | {
    "max_noinput": NODES["menu"]["max_noinput"],
    "max_nomatch": NODES["menu"]["max_nomatch"],
}

FLOW = {
    "description": F("text", "what this line is for"),
    "start": F("target", "first node (default: the first one listed)"),
    "calendar": F("text", "business-hours calendar file for hours nodes and {open: ...} conditions"),
    "defaults": F("defaults", "defaults for every menu and input node"),
    "vars": F("vars", "variables set when the flow starts"),
    "global_options": F("options", "options every menu accepts (e.g. 人工 -> operator)"),
    "nodes": F("nodes", "node id -> node", required=True),
}

_PROMPT_PART = {
    "anyOf": [
        {"type": "string"},
        {
            "type": "object",
            "properties": {"text": {"type": "string"}, "wav": {"type": "string"}},
            "additionalProperties": False,
        },
    ]
}
_PROMPT = {"anyOf": [*_PROMPT_PART["anyOf"], {"type": "array", "items": _PROMPT_PART}]}
_SCALAR = {"type": ["string", "number", "boolean", "null"]}
_JSON: dict[str, dict[str, Any]] = {
    "text": {"type": "string"},
    "wav": {"type": "string"},
    "template": {"type": "string"},
    "name": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
    "target": {"type": "string"},
    "flow": {"type": "string"},
    "queue": {"type": "string"},
    "regex": {"type": "string"},
    "key": {"type": ["string", "integer"], "pattern": r"^[0-9*#]$"},
    "int": {"type": "integer"},
    "number": {"type": "number"},
    "bool": {"type": "boolean"},
    "prompt": _PROMPT,
    "prompts": {"anyOf": [_PROMPT, {"type": "array", "items": _PROMPT}]},
    "phrases": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    "vars": {"type": "object", "additionalProperties": _SCALAR},
    "fields": {"type": "object", "additionalProperties": _SCALAR},
    "skills": {"type": "object", "additionalProperties": {"type": "integer"}},
    "outcomes": {
        "type": "object",
        "propertyNames": {"enum": list(QUEUE_OUTCOMES)},
        "additionalProperties": {"type": "string"},
    },
    "condition": {"$ref": "#/$defs/condition"},
    "cases": {"anyOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]},
    "options": {"type": "array", "items": {"$ref": "#/$defs/option"}},
    "defaults": {"type": "object"},
    "nodes": {"type": "object", "additionalProperties": {"$ref": "#/$defs/node"}},
    "type": {"enum": list(NODES)},
}


def _json(f: F) -> dict[str, Any]:
    if f.kind.startswith("enum:"):
        out: dict[str, Any] = {"enum": f.kind[5:].split("|")}
    else:
        out = dict(_JSON[f.kind])
    out["description"] = f.doc
    return out


def _object(fields: dict[str, F]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {k: _json(f) for k, f in fields.items()},
        "required": [k for k, f in fields.items() if f.required],
        "additionalProperties": False,
    }


def json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of a flow file."""
    node_variants = []
    for name, fields in NODES.items():
        variant = _object({**COMMON, **fields})
        variant["properties"]["type"] = {"const": name}
        node_variants.append({"if": {"properties": {"type": {"const": name}}}, "then": variant})
    defaults = _object(DEFAULTS)
    schema = _object(FLOW)
    schema["properties"]["defaults"] = defaults
    schema.update(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://github.com/12345-hotline/ivr/flow.schema.json",
            "title": "12345 Hotline voice flow",
            "$defs": {
                "node": {"type": "object", "required": ["type"], "allOf": node_variants},
                "option": _object(OPTION),
                "condition": {
                    "type": "object",
                    "description": "var/time/weekday/holiday/workday/open/queue tests; all/any/not",
                },
            },
        }
    )
    return schema
