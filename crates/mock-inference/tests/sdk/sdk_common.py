"""What both SDK test files share: the server (MOCK_INFERENCE_URL), the model, the fixed
sentence, and the weather tool's schema with the check that arguments satisfy it."""

import os

URL = os.environ["MOCK_INFERENCE_URL"].rstrip("/")
MODEL = os.environ.get("MOCK_INFERENCE_MODEL", "mock-gpt")
SENTENCE = "This is a mock response from the development inference engine."

# The weather function's parameters: OpenAI's `parameters`, Anthropic's `input_schema`.
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 2},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "required": ["city", "unit", "days"],
}


def check_weather_args(args):
    assert isinstance(args["city"], str) and len(args["city"]) >= 2
    assert args["unit"] in ("celsius", "fahrenheit")
    assert isinstance(args["days"], int) and 1 <= args["days"] <= 7


# The time function's parameters: the second tool of the parallel-call checks.
TIME_SCHEMA = {
    "type": "object",
    "properties": {"timezone": {"type": "string", "enum": ["UTC", "CET"]}},
    "required": ["timezone"],
}


def check_time_args(args):
    assert args["timezone"] in ("UTC", "CET")


# Asks mock-inference for two tool calls in the turn (each tool once, in order).
TWO_CALLS = {"X-Mock-Tool-Calls": "2"}

# A second server that wants an API key (scripts/test/mock-inference-sdk.sh starts it).
KEYED_URL = os.environ.get("MOCK_INFERENCE_KEYED_URL", "").rstrip("/")
API_KEY = os.environ.get("MOCK_INFERENCE_API_KEY", "")

# The main server's reasoning model (`--reasoning-model`, scripts/test/mock-inference-sdk.sh).
REASONER = os.environ.get("MOCK_INFERENCE_REASONER", "mock-reasoner")
