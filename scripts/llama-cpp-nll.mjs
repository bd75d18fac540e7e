#!/usr/bin/env node
// llama.cpp's mean next-token NLL of a GGUF model over token ids, under CherryQ's window protocol
// (docs/ARCHITECTURE.md): consecutive non-overlapping windows of WINDOW ids, a trailing shorter window dropped,
// each window predicting its positions 1..WINDOW-1 from a fresh context.
//
// Runs llama.cpp through npm's node-llama-cpp (3.21.1, installed by scripts/prepare-llama-cpp into
// .cache/node-llama-cpp): CPU only, prebuilt binaries, never a build. Each window goes through
// sequence.controlledEvaluate with generateNext: {probabilities: true} on every fed position, which returns the
// full next-token distribution; no sampling options are given, since those truncate it to the top candidates.
// The sequence's history is cleared between windows.
//
// Usage: node scripts/llama-cpp-nll.mjs MODEL.gguf TOKENS.json WINDOW
//   TOKENS.json: a JSON array of token ids. Prints one JSON line: {"mean_nll", "tokens", "windows"}, where tokens
//   counts the predicted tokens. LLAMA_CPP_DIR overrides the folder holding node_modules; LLAMA_CPP_THREADS the
//   threads (default 1); LLAMA_CPP_FLASH_ATTENTION=0 turns llama.cpp's flash attention off (its CPU kernel rounds
//   q, k and v to f16: measured 1.6e-4 nats on a random Llama-3 model, 2.5e-5 without it).
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const [modelPath, tokensPath, windowArg] = process.argv.slice(2);
const windowLength = Number(windowArg);
if (!modelPath || !tokensPath || !Number.isInteger(windowLength) || windowLength < 2) {
  console.error("usage: node scripts/llama-cpp-nll.mjs MODEL.gguf TOKENS.json WINDOW (an integer >= 2)");
  process.exit(2);
}
const tokens = JSON.parse(readFileSync(tokensPath, "utf8"));
if (!Array.isArray(tokens) || !tokens.every(Number.isInteger)) {
  console.error(`${tokensPath}: not a JSON array of integer token ids`);
  process.exit(2);
}
const windows = Math.floor(tokens.length / windowLength);
if (windows < 1) {
  console.error(`${tokensPath}: ${tokens.length} ids, shorter than one window of ${windowLength}`);
  process.exit(2);
}

// node-llama-cpp from the cache folder (ESM: imported by file URL, since this script lives outside that folder)
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const nodeDir = process.env.LLAMA_CPP_DIR ?? join(root, ".cache", "node-llama-cpp");
const entry = join(nodeDir, "node_modules", "node-llama-cpp", "dist", "index.js");
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(entry).href);

const threads = Number(process.env.LLAMA_CPP_THREADS ?? 1);
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
const model = await llama.loadModel({ modelPath: resolve(modelPath), gpuLayers: 0 });
const flashAttention = process.env.LLAMA_CPP_FLASH_ATTENTION === "0" ? { flashAttention: false } : {};
const context = await model.createContext({ contextSize: windowLength, batchSize: windowLength, sequences: 1, threads,
  ...flashAttention });
const sequence = context.getSequence();

let totalNll = 0;
let predicted = 0;
for (let w = 0; w < windows; w++) {
  const window = tokens.slice(w * windowLength, (w + 1) * windowLength);
  await sequence.clearHistory(); // every window starts from an empty context
  // feed positions 0..N-2, each asking for the full distribution of the token after it
  const input = window.slice(0, -1).map((token) => [token, { generateNext: { probabilities: true } }]);
  const outputs = await sequence.controlledEvaluate(input);
  for (let i = 0; i < input.length; i++) {
    const probabilities = outputs[i]?.next?.probabilities;
    if (!probabilities) {
      throw new Error(`window ${w}, position ${i}: llama.cpp returned no probabilities`);
    }
    const p = probabilities.get(window[i + 1]) ?? 0;
    totalNll += -Math.log(p);
    predicted++;
  }
}
await context.dispose();
await model.dispose();
await llama.dispose();
console.log(JSON.stringify({ mean_nll: totalNll / predicted, tokens: predicted, windows }));
