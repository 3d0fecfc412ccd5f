"""The official `openai` Python SDK against the real mock-inference binary.

scripts/test/mock-inference-sdk.sh starts the server and passes its URL in MOCK_INFERENCE_URL.
"""

import json

import openai
import pytest

from sdk_common import (
    API_KEY,
    KEYED_URL,
    MODEL,
    REASONER,
    SENTENCE,
    TIME_SCHEMA,
    TWO_CALLS,
    URL,
    WEATHER_SCHEMA,
    check_time_args,
    check_weather_args,
)

BASE = URL + "/v1"

@pytest.fixture(scope="module")
def client():
    return openai.OpenAI(base_url=BASE, api_key="sk-mock", max_retries=0)


def test_chat(client):
    r = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hello"}]
    )
    assert r.object == "chat.completion"
    assert r.id.startswith("chatcmpl-")
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content == SENTENCE
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.completion_tokens == 11
    assert r.usage.total_tokens == r.usage.prompt_tokens + 11
    assert r.system_fingerprint


def test_chat_stream_with_usage(client):
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Say hello"}],
        stream=True,
        stream_options={"include_usage": True},
        max_tokens=5,
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "This is a mock response"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 5


def test_completions(client):
    r = client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=4)
    assert r.object == "text_completion"
    assert r.choices[0].text == "This is a mock"
    assert r.choices[0].finish_reason == "length"
    assert r.usage.prompt_tokens == 4
    streamed = "".join(
        c.choices[0].text
        for c in client.completions.create(model=MODEL, prompt="x", max_tokens=3, stream=True)
        if c.choices
    )
    assert streamed == "This is a"


def test_embeddings(client):
    r = client.embeddings.create(model=MODEL, input=["alpha", "beta"])
    assert len(r.data) == 2
    assert len(r.data[0].embedding) == 1536
    assert r.data[0].embedding != r.data[1].embedding
    norm = sum(x * x for x in r.data[0].embedding) ** 0.5
    assert abs(norm - 1.0) < 1e-3
    # The SDK asks for base64 by default when numpy is around; ask explicitly for both.
    b = client.embeddings.create(model=MODEL, input="alpha", dimensions=16, encoding_format="float")
    assert len(b.data[0].embedding) == 16
    assert r.usage.prompt_tokens == 2


def test_models(client):
    ids = [m.id for m in client.models.list()]
    assert MODEL in ids
    assert client.models.retrieve(MODEL).id == MODEL
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": WEATHER_SCHEMA,
        },
    }
]


def test_tool_calls(client):
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=TOOLS,
        tool_choice="required",
    )
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls"
    assert call.type == "function" and call.function.name == "get_weather"
    check_weather_args(json.loads(call.function.arguments))


def test_tool_calls_streamed(client):
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=TOOLS,
        stream=True,
    )
    calls = {}
    for chunk in stream:
        for tc in chunk.choices[0].delta.tool_calls or []:
            entry = calls.setdefault(tc.index, {"name": "", "arguments": ""})
            if tc.function.name:
                entry["name"] = tc.function.name
            entry["arguments"] += tc.function.arguments or ""
    assert list(calls) == [0]
    assert calls[0]["name"] == "get_weather"
    check_weather_args(json.loads(calls[0]["arguments"]))


def test_json_schema_response_format(client):
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "give me json"}],
        response_format={
            "type": "json_schema",
            "json_schema": {
                "name": "answer",
                "schema": {
                    "type": "object",
                    "properties": {"answer": {"type": "string"}, "score": {"type": "number", "minimum": 0.5}},
                    "required": ["answer", "score"],
                },
            },
        },
    )
    data = json.loads(r.choices[0].message.content)
    assert isinstance(data["answer"], str) and data["score"] >= 0.5


def test_errors(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert e.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=MODEL, messages=[])
    assert e.value.param == "messages"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}], temperature=5)
    assert e.value.param == "temperature"
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}], extra_headers={"X-Mock-Fault": "429"}
        )
    assert e.value.response.headers["retry-after"]
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}], extra_headers={"X-Mock-Fault": "503"}
        )
    assert e.value.status_code == 503


def test_mid_stream_error_event(client):
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "x"}],
        stream=True,
        extra_headers={"X-Mock-Fault": "error@2"},
    )
    seen = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            seen.append(chunk.choices[0].delta.content if chunk.choices else None)
    assert len([s for s in seen if s]) == 2


# ---------------------------------------------------------------- the Responses API

RESPONSE_TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "strict": True,
        "parameters": TOOLS[0]["function"]["parameters"],
    }
]


def test_responses_create(client):
    r = client.responses.create(
        model=MODEL,
        input="Say hello",
        instructions="Be brief.",
        metadata={"suite": "sdk"},
        temperature=0.2,
    )
    assert r.id.startswith("resp_")
    assert r.object == "response"
    assert r.status == "completed"
    assert r.output_text == SENTENCE
    assert r.output[0].type == "message"
    assert r.metadata == {"suite": "sdk"}
    assert r.usage.output_tokens == 11
    assert r.usage.input_tokens_details.cached_tokens == 0
    assert r.usage.output_tokens_details.reasoning_tokens == 0
    assert client.responses.retrieve(r.id).output_text == SENTENCE


def test_responses_stream_final_response(client):
    with client.responses.stream(model=MODEL, input="Say hello") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == SENTENCE
    assert final.status == "completed"
    assert final.output_text == SENTENCE
    assert final.usage.output_tokens == len(deltas)


def test_responses_function_call_round_trip(client):
    first = client.responses.create(
        model=MODEL,
        input=[{"role": "user", "content": "Weather in Paris?"}],
        tools=RESPONSE_TOOLS,
        tool_choice="required",
    )
    call = first.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    check_weather_args(json.loads(call.arguments))
    second = client.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": '{"temp": 21}'}],
        tools=RESPONSE_TOOLS,
    )
    assert second.output[0].type == "message"
    assert second.output_text == SENTENCE
    assert second.previous_response_id == first.id
    assert second.usage.input_tokens > first.usage.input_tokens


def test_responses_function_call_streamed(client):
    with client.responses.stream(
        model=MODEL, input="Weather in Paris?", tools=RESPONSE_TOOLS, tool_choice="required"
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    args = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    check_weather_args(json.loads(args))
    assert final.output[0].arguments == args
    numbers = [e.sequence_number for e in events]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


def test_responses_json_schema(client):
    r = client.responses.create(
        model=MODEL,
        input="give me json",
        text={
            "format": {
                "type": "json_schema",
                "name": "answer",
                "strict": True,
                "schema": {
                    "type": "object",
                    "properties": {"answer": {"type": "string"}, "score": {"type": "number", "minimum": 0.5}},
                    "required": ["answer", "score"],
                    "additionalProperties": False,
                },
            }
        },
    )
    data = json.loads(r.output_text)
    assert isinstance(data["answer"], str) and data["score"] >= 0.5


def test_responses_errors(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.responses.create(model=MODEL, input="x", previous_response_id="resp_unknown")
    assert e.value.code == "previous_response_not_found"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_unknown")
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model=MODEL, input="x", max_output_tokens=4)
    assert e.value.param == "max_output_tokens"
    with pytest.raises(openai.NotFoundError) as e:
        client.responses.create(model="no-such-model", input="x")
    assert e.value.code == "model_not_found"
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model=MODEL, input="x", extra_headers={"X-Mock-Fault": "429"})


def test_responses_mid_stream_failure(client):
    with client.responses.stream(model=MODEL, input="x", extra_headers={"X-Mock-Fault": "error@2"}) as stream:
        events = list(stream)
        with pytest.raises(RuntimeError):
            stream.get_final_response()
    assert [e.type for e in events].count("response.output_text.delta") == 2
    assert events[-1].type == "response.failed"
    assert events[-1].response.error.code == "server_error"


@pytest.mark.skipif(not KEYED_URL, reason="no server with --api-key (MOCK_INFERENCE_KEYED_URL)")
def test_api_key_401_is_authentication_error():
    wrong = openai.OpenAI(base_url=KEYED_URL + "/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        wrong.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 401
    assert e.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        wrong.responses.create(model=MODEL, input="hi")
    right = openai.OpenAI(base_url=KEYED_URL + "/v1", api_key=API_KEY, max_retries=0)
    r = right.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == SENTENCE


def test_chat_logprobs(client):
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Say hello"}],
        logprobs=True,
        top_logprobs=3,
        seed=7,
    )
    entries = r.choices[0].logprobs.content
    assert len(entries) == r.usage.completion_tokens
    assert "".join(e.token for e in entries) == r.choices[0].message.content
    for e in entries:
        assert e.logprob <= 0 and bytes(e.bytes).decode() == e.token
        assert len(e.top_logprobs) == 3 and e.top_logprobs[0].logprob == e.logprob
        values = [t.logprob for t in e.top_logprobs]
        assert values == sorted(values, reverse=True)
    streamed = [
        c.choices[0].logprobs.content[0].logprob
        for c in client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Say hello"}],
            logprobs=True,
            top_logprobs=3,
            seed=7,
            stream=True,
        )
        if c.choices and c.choices[0].logprobs
    ]
    assert streamed == [e.logprob for e in entries]


def test_completions_logprobs(client):
    r = client.completions.create(model=MODEL, prompt="x", max_tokens=4, logprobs=2)
    lp = r.choices[0].logprobs
    assert "".join(lp.tokens) == r.choices[0].text
    assert len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == 4
    assert all(len(top) == 2 for top in lp.top_logprobs)


def test_responses_logprobs(client):
    r = client.responses.create(
        model=MODEL, input="hi", include=["message.output_text.logprobs"], top_logprobs=2
    )
    part = r.output[0].content[0]
    assert "".join(e.token for e in part.logprobs) == part.text
    assert all(len(e.top_logprobs) == 2 for e in part.logprobs)


def test_chat_reasoning(client):
    r = client.chat.completions.create(
        model=REASONER,
        messages=[{"role": "user", "content": "Think first"}],
        reasoning_effort="low",
    )
    message = r.choices[0].message
    assert message.reasoning and message.content == SENTENCE
    assert r.usage.completion_tokens_details.reasoning_tokens == 16
    chunks = list(
        client.chat.completions.create(
            model=REASONER,
            messages=[{"role": "user", "content": "Think first"}],
            reasoning_effort="low",
            stream=True,
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = "".join(getattr(d, "reasoning", None) or "" for d in deltas)
    assert reasoning == message.reasoning


def test_responses_reasoning_item(client):
    r = client.responses.create(model=REASONER, input="hi", reasoning={"effort": "low"})
    assert r.output[0].type == "reasoning" and r.output[0].summary[0].text
    assert r.output_text == SENTENCE
    assert r.usage.output_tokens_details.reasoning_tokens == 16


# ---------------------------------------------------------------- several calls per turn

TWO_TOOLS = TOOLS + [
    {"type": "function", "function": {"name": "get_time", "parameters": TIME_SCHEMA}}
]
TWO_RESPONSE_TOOLS = RESPONSE_TOOLS + [
    {"type": "function", "name": "get_time", "parameters": TIME_SCHEMA, "strict": True}
]
CHECKS = {"get_weather": check_weather_args, "get_time": check_time_args}


def test_parallel_tool_calls_streamed(client):
    question = [{"role": "user", "content": "Weather and time in Paris?"}]
    # The SDK's stream helper reassembles the calls from their deltas by index.
    with client.chat.completions.stream(
        model=MODEL, messages=question, tools=TWO_TOOLS, extra_headers=TWO_CALLS
    ) as stream:
        done = [e for e in stream if e.type == "tool_calls.function.arguments.done"]
        final = stream.get_final_completion()
    assert [e.index for e in done] == [0, 1]
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert len({c.id for c in calls}) == 2 and all(c.id.startswith("call_") for c in calls)
    for call, event in zip(calls, done):
        CHECKS[call.function.name](json.loads(call.function.arguments))
        assert event.arguments == call.function.arguments
    # The raw deltas, accumulated by index, give the same calls.
    acc = {}
    for chunk in client.chat.completions.create(
        model=MODEL, messages=question, tools=TWO_TOOLS, stream=True, extra_headers=TWO_CALLS
    ):
        for tc in chunk.choices[0].delta.tool_calls or []:
            entry = acc.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
            if tc.id:
                assert entry["id"] is None, "one header per call"
                entry["id"], entry["name"] = tc.id, tc.function.name
            entry["arguments"] += tc.function.arguments or ""
    assert sorted(acc) == [0, 1]
    assert [acc[i]["name"] for i in (0, 1)] == ["get_weather", "get_time"]
    assert [acc[i]["arguments"] for i in (0, 1)] == [c.function.arguments for c in calls]


def test_parallel_tool_calls_disabled(client):
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather and time in Paris?"}],
        tools=TWO_TOOLS,
        parallel_tool_calls=False,
        extra_headers=TWO_CALLS,
    )
    assert [c.function.name for c in r.choices[0].message.tool_calls] == ["get_weather"]


def test_responses_two_function_calls_round_trip(client):
    question = [{"role": "user", "content": "Weather and time in Paris?"}]
    first = client.responses.create(
        model=MODEL, input=question, tools=TWO_RESPONSE_TOOLS, extra_headers=TWO_CALLS
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert [c.name for c in calls] == ["get_weather", "get_time"]
    assert len({c.id for c in calls}) == 2 and all(c.id.startswith("fc_") for c in calls)
    assert len({c.call_id for c in calls}) == 2
    for call in calls:
        CHECKS[call.name](json.loads(call.arguments))
    # Both calls and both outputs go back; the model answers in words.
    outputs = [
        {"type": "function_call_output", "call_id": c.call_id, "output": '{"ok": true}'}
        for c in calls
    ]
    second = client.responses.create(
        model=MODEL,
        input=question + [c.model_dump(exclude_none=True) for c in calls] + outputs,
        tools=TWO_RESPONSE_TOOLS,
        extra_headers=TWO_CALLS,
    )
    assert second.output[0].type == "message"
    assert second.output_text == SENTENCE
    # Streamed: each item's argument deltas at its own output_index.
    with client.responses.stream(
        model=MODEL, input=question, tools=TWO_RESPONSE_TOOLS, extra_headers=TWO_CALLS
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    deltas = {}
    for e in events:
        if e.type == "response.function_call_arguments.delta":
            deltas[e.output_index] = deltas.get(e.output_index, "") + e.delta
    assert [final.output[i].arguments for i in (0, 1)] == [deltas[0], deltas[1]]
    single = client.responses.create(
        model=MODEL,
        input=question,
        tools=TWO_RESPONSE_TOOLS,
        parallel_tool_calls=False,
        extra_headers=TWO_CALLS,
    )
    assert [item.type for item in single.output] == ["function_call"]
