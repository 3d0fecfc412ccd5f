"""The official `anthropic` Python SDK against the real mock-inference binary.

Run like test_openai_sdk.py: MOCK_INFERENCE_URL names a running server.
"""

import json

import anthropic
import pytest

from sdk_common import (
    API_KEY,
    KEYED_URL,
    MODEL,
    SENTENCE,
    TIME_SCHEMA,
    TWO_CALLS,
    URL,
    WEATHER_SCHEMA,
    check_time_args,
    check_weather_args,
)

TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": WEATHER_SCHEMA,
    }
]


@pytest.fixture(scope="module")
def client():
    return anthropic.Anthropic(base_url=URL, api_key="sk-ant-mock", max_retries=0)


def hello():
    return [{"role": "user", "content": "Say hello"}]


def test_messages_create(client):
    m = client.messages.create(model=MODEL, max_tokens=256, system="Be brief.", messages=hello())
    assert m.id.startswith("msg_")
    assert m.type == "message" and m.role == "assistant"
    assert m.content[0].type == "text"
    assert m.content[0].text == SENTENCE
    assert m.stop_reason == "end_turn"
    assert m.usage.output_tokens == 11
    assert m.usage.input_tokens > 0


def test_stop_reasons(client):
    m = client.messages.create(model=MODEL, max_tokens=3, messages=hello())
    assert m.stop_reason == "max_tokens"
    assert m.content[0].text == "This is a"
    m = client.messages.create(model=MODEL, max_tokens=256, messages=hello(), stop_sequences=["mock"])
    assert m.stop_reason == "stop_sequence"
    assert m.stop_sequence == "mock"
    assert m.content[0].text == "This is a "


def test_messages_stream(client):
    with client.messages.stream(model=MODEL, max_tokens=256, messages=hello()) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == SENTENCE
    assert final.content[0].text == SENTENCE
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 11


def test_tool_use_round_trip(client):
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    m = client.messages.create(
        model=MODEL, max_tokens=256, messages=messages, tools=TOOLS, tool_choice={"type": "any"}
    )
    assert m.stop_reason == "tool_use"
    use = m.content[0]
    assert use.type == "tool_use" and use.name == "get_weather"
    assert use.id.startswith("toolu_")
    check_weather_args(use.input)
    messages += [
        {"role": "assistant", "content": m.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "21 degrees"}]},
    ]
    answer = client.messages.create(model=MODEL, max_tokens=256, messages=messages, tools=TOOLS)
    assert answer.stop_reason == "end_turn"
    assert answer.content[0].text == SENTENCE


def test_tool_use_streamed(client):
    with client.messages.stream(
        model=MODEL,
        max_tokens=256,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=TOOLS,
        tool_choice={"type": "tool", "name": "get_weather"},
    ) as stream:
        partial = "".join(e.delta.partial_json for e in stream if e.type == "content_block_delta")
        final = stream.get_final_message()
    check_weather_args(json.loads(partial))
    assert final.content[0].input == json.loads(partial)
    assert final.stop_reason == "tool_use"


def test_count_tokens(client):
    kwargs = dict(model=MODEL, system="Be brief.", messages=hello(), tools=TOOLS)
    counted = client.messages.count_tokens(**kwargs)
    created = client.messages.create(max_tokens=64, **kwargs)
    assert counted.input_tokens == created.usage.input_tokens


def test_errors(client):
    with pytest.raises(anthropic.NotFoundError) as e:
        client.messages.create(model="no-such-model", max_tokens=16, messages=hello())
    assert e.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(model=MODEL, max_tokens=16, messages=[])
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "invalid_request_error"
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model=MODEL, max_tokens=16, messages=hello(), extra_headers={"X-Mock-Fault": "429"})
    with pytest.raises(anthropic.APIStatusError) as e:
        client.messages.create(model=MODEL, max_tokens=16, messages=hello(), extra_headers={"X-Mock-Fault": "503"})
    assert e.value.status_code == 529
    assert e.value.body["error"]["type"] == "overloaded_error"


def test_mid_stream_error(client):
    seen = []
    with pytest.raises(anthropic.APIStatusError) as e:
        with client.messages.stream(
            model=MODEL, max_tokens=256, messages=hello(), extra_headers={"X-Mock-Fault": "error@2"}
        ) as stream:
            for text in stream.text_stream:
                seen.append(text)
    assert len(seen) == 2
    assert "overloaded" in str(e.value).lower()


@pytest.mark.skipif(not KEYED_URL, reason="no server with --api-key (MOCK_INFERENCE_KEYED_URL)")
def test_api_key_401_is_authentication_error():
    wrong = anthropic.Anthropic(base_url=KEYED_URL, api_key="sk-ant-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as e:
        wrong.messages.create(model=MODEL, max_tokens=64, messages=hello())
    assert e.value.status_code == 401
    assert e.value.body["error"]["type"] == "authentication_error"
    right = anthropic.Anthropic(base_url=KEYED_URL, api_key=API_KEY, max_retries=0)
    m = right.messages.create(model=MODEL, max_tokens=64, messages=hello())
    assert m.content[0].text == SENTENCE


def test_thinking_blocks(client):
    thinking = {"type": "enabled", "budget_tokens": 1024}
    m = client.messages.create(model=MODEL, max_tokens=2048, thinking=thinking, messages=hello())
    assert [b.type for b in m.content] == ["thinking", "text"]
    assert m.content[0].thinking and m.content[0].signature
    assert m.content[1].text == SENTENCE
    with client.messages.stream(
        model=MODEL, max_tokens=2048, thinking=thinking, messages=hello()
    ) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == m.content[0].thinking
    assert final.content[0].signature


TWO_TOOLS = TOOLS + [{"name": "get_time", "input_schema": TIME_SCHEMA}]
CHECKS = {"get_weather": check_weather_args, "get_time": check_time_args}


def test_parallel_tool_use_streamed_round_trip(client):
    messages = [{"role": "user", "content": "Weather and time in Paris?"}]
    with client.messages.stream(
        model=MODEL, max_tokens=256, messages=messages, tools=TWO_TOOLS, extra_headers=TWO_CALLS
    ) as stream:
        starts = [e.index for e in stream if e.type == "content_block_start"]
        final = stream.get_final_message()
    assert starts == [0, 1]
    assert final.stop_reason == "tool_use"
    uses = final.content
    assert [u.type for u in uses] == ["tool_use", "tool_use"]
    assert [u.name for u in uses] == ["get_weather", "get_time"]
    assert len({u.id for u in uses}) == 2 and all(u.id.startswith("toolu_") for u in uses)
    for use in uses:
        CHECKS[use.name](use.input)
    messages += [
        {"role": "assistant", "content": uses},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": u.id, "content": "ok"} for u in uses
            ],
        },
    ]
    answer = client.messages.create(
        model=MODEL, max_tokens=256, messages=messages, tools=TWO_TOOLS, extra_headers=TWO_CALLS
    )
    assert answer.stop_reason == "end_turn"
    assert answer.content[0].text == SENTENCE
    single = client.messages.create(
        model=MODEL,
        max_tokens=256,
        messages=messages[:1],
        tools=TWO_TOOLS,
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
        extra_headers=TWO_CALLS,
    )
    assert [u.name for u in single.content] == ["get_weather"]
