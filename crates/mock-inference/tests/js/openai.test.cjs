// The official `openai` JavaScript SDK (pinned in scripts/dev/setup.d/mock-inference.sh, installed
// into .devenv/npm) drives a real mock-inference: a streamed chat completion reassembled from its
// chunks, and the Responses API through `responses.create` and the `responses.stream` helper.
// Run by scripts/test/mock-inference-js.sh, which starts the server and sets
// MOCK_INFERENCE_URL (and NODE_PATH to find the SDK). CommonJS, so NODE_PATH resolves `openai`.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { OpenAI } = require('openai');

const baseURL = `${process.env.MOCK_INFERENCE_URL}/v1`;
const model = process.env.MOCK_INFERENCE_MODEL || 'mock-gpt';
// No retries: a wrong answer must fail the test, not be retried into a pass.
const client = new OpenAI({ baseURL, apiKey: 'sk-mock', maxRetries: 0, timeout: 10_000 });
const messages = [{ role: 'user', content: 'Say something about mocks.' }];

test('chat completion stream: chunks reassemble to the non-streamed answer', async () => {
  const whole = await client.chat.completions.create({ model, messages });
  assert.equal(whole.object, 'chat.completion');
  assert.equal(whole.model, model);
  const expected = whole.choices[0].message.content;
  assert.ok(expected.length > 0, 'the non-streamed answer has text');

  const stream = await client.chat.completions.create({
    model,
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let role;
  let finishReason = null;
  let usage = null;
  const ids = new Set();
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    assert.equal(chunk.object, 'chat.completion.chunk');
    assert.equal(chunk.model, model);
    ids.add(chunk.id);
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      assert.equal(choice.index, 0);
      if (choice.delta.role) role = choice.delta.role;
      if (choice.delta.content) text += choice.delta.content;
      if (choice.finish_reason) finishReason = choice.finish_reason;
    }
  }
  assert.ok(chunks > 2, `several chunks, got ${chunks}`);
  assert.equal(ids.size, 1, 'every chunk carries the same id');
  assert.equal(role, 'assistant');
  assert.equal(text, expected);
  assert.equal(finishReason, 'stop');
  assert.ok(usage, 'include_usage sends a usage chunk');
  assert.equal(usage.completion_tokens, whole.usage.completion_tokens);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
});

test('chat completion stream: max_tokens cuts with finish_reason length', async () => {
  const stream = await client.chat.completions.create({ model, messages, stream: true, max_tokens: 3 });
  let deltas = 0;
  let finishReason = null;
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      if (choice.delta.content) deltas += 1;
      if (choice.finish_reason) finishReason = choice.finish_reason;
    }
  }
  assert.equal(deltas, 3, 'one content delta per token');
  assert.equal(finishReason, 'length');
});

test('responses.create: a completed response with output_text', async () => {
  const response = await client.responses.create({ model, input: 'Say something about mocks.' });
  assert.equal(response.object, 'response');
  assert.match(response.id, /^resp_/);
  assert.equal(response.status, 'completed');
  assert.equal(response.model, model);
  assert.ok(response.output_text.length > 0, 'the SDK assembles output_text');
  const message = response.output.find((item) => item.type === 'message');
  assert.ok(message, 'a message output item');
  assert.equal(message.content[0].type, 'output_text');
  assert.equal(message.content[0].text, response.output_text);
  assert.ok(response.usage.output_tokens > 0);
  assert.equal(response.usage.total_tokens, response.usage.input_tokens + response.usage.output_tokens);
});

test('responses.stream: deltas add up to finalResponse()', async () => {
  const expected = (await client.responses.create({ model, input: 'Say something about mocks.' })).output_text;
  const stream = client.responses.stream({ model, input: 'Say something about mocks.' });
  let text = '';
  const types = [];
  let sequence = -1;
  for await (const event of stream) {
    types.push(event.type);
    assert.ok(event.sequence_number > sequence, 'sequence numbers rise');
    sequence = event.sequence_number;
    if (event.type === 'response.output_text.delta') text += event.delta;
  }
  const final = await stream.finalResponse();
  assert.equal(types[0], 'response.created');
  assert.equal(types.at(-1), 'response.completed');
  assert.ok(types.filter((t) => t === 'response.output_text.delta').length > 1, 'one delta per token');
  assert.equal(final.status, 'completed');
  assert.equal(final.model, model);
  // finalResponse() is the response the stream built, without create()'s output_text helper.
  const finalText = final.output
    .filter((item) => item.type === 'message')
    .flatMap((item) => item.content)
    .filter((part) => part.type === 'output_text')
    .map((part) => part.text)
    .join('');
  assert.equal(text, finalText);
  assert.equal(finalText, expected);
});
