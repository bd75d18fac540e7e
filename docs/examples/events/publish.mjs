// Publishes a quantization request event to CherryQ's requests topic in the proto3 JSON encoding: no generated
// code, only kafkajs. Usage: node publish.mjs BOOTSTRAP JOB_ID REQUEST_JSON_FILE
import { Kafka, logLevel } from 'kafkajs';
import { readFileSync } from 'node:fs';

const [bootstrap, jobId, file] = process.argv.slice(2);
const producer = new Kafka({ clientId: 'example-publisher', brokers: [bootstrap], logLevel: logLevel.ERROR })
  .producer();
await producer.connect();
await producer.send({ topic: 'cherryq.v1.requests', messages: [{ key: jobId, value: readFileSync(file),
  headers: { 'content-type': 'application/json' } }] });  // the job id comes from the key
await producer.disconnect();
console.log(`published ${jobId}`);
