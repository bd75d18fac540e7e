// Prints CherryQ job lifecycle events (cherryq.v1.job-events, binary protobuf JobEvent) as they happen, decoding them
// with protobufjs from the published .proto files, until every job named has COMPLETED or FAILED.
// Usage: node follow.mjs BOOTSTRAP PROTO_DIR JOB_ID...
import { Kafka, logLevel } from 'kafkajs';
import protobuf from 'protobufjs';
import path from 'node:path';

const [bootstrap, protoDir, ...jobIds] = process.argv.slice(2);
const root = new protobuf.Root();
root.resolvePath = (origin, target) => path.join(protoDir, target);  // imports are "cherryq/v1/..."
await root.load('cherryq/v1/status.proto');
const JobEvent = root.lookupType('cherryq.v1.JobEvent');

const consumer = new Kafka({ clientId: 'example-follower', brokers: [bootstrap], logLevel: logLevel.ERROR })
  .consumer({ groupId: `example-follower-${Date.now()}` });
await consumer.connect();
await consumer.subscribe({ topic: 'cherryq.v1.job-events', fromBeginning: true });
const open = new Set(jobIds);
await new Promise((done) => consumer.run({ eachMessage: async ({ message }) => {
  const event = JobEvent.toObject(JobEvent.decode(message.value), { enums: String, longs: Number, defaults: true });
  if (!open.has(event.jobId)) return;
  const state = event.state === 'JOB_STATE_UNSPECIFIED' ? 'progress' : event.state.replace('JOB_STATE_', '');
  const stage = event.stage.replace('STAGE_', '').toLowerCase();
  const shards = event.progress?.completed ?? [];  // a stage's event reports the one shard or segment it finished
  const progress = !event.progress ? '' : shards.length ? ` ${shards.join(',')} of ${event.progress.total}`
    : ` ${event.progress.done}/${event.progress.total}`;
  console.log(`${event.jobId} ${stage} ${state}${progress}`);
  if (state === 'COMPLETED') {
    for (const row of event.result.variants) console.log(`  ${row.variant}: mean NLL ${row.meanNll.toFixed(4)}`);
  }
  if (state === 'FAILED') console.log(`  ${event.error.code}: ${event.error.message}`);
  if (state === 'COMPLETED' || state === 'FAILED') open.delete(event.jobId);
  if (open.size === 0) done();
} }));
await consumer.disconnect();
