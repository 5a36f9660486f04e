// BullMQ against a Redis-protocol server: jobs are added, processed by a
// worker, retried after a failure, delayed, prioritized, and their events
// read back through a stream. Exits 0 only if every job completed with the
// expected result; prints why otherwise.
//
//   FERRY_PORT=6379 node queue_test.js
//
// BullMQ does its work in Lua scripts (EVALSHA, cmsgpack), keeps events in a
// stream (XADD ... MAXLEN ~, XREAD BLOCK), and waits for jobs with BZPOPMIN.
'use strict';

const { Queue, Worker, QueueEvents, FlowProducer } = require('bullmq');

const port = Number(process.env.FERRY_PORT || 6379);
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
const JOBS = Number(process.env.JOBS || 200);
const DEADLINE_MS = Number(process.env.DEADLINE_MS || 60000);

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}

async function main() {
  const timer = setTimeout(() => fail(`not done within ${DEADLINE_MS} ms`), DEADLINE_MS);
  const name = `ferry-test-${process.pid}`;
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  await events.waitUntilReady();
  await queue.obliterate({ force: true }).catch(() => {});

  const completedByEvents = new Set();
  events.on('completed', ({ jobId }) => completedByEvents.add(jobId));

  const attempts = new Map();
  const worker = new Worker(
    name,
    async (job) => {
      const n = (attempts.get(job.id) || 0) + 1;
      attempts.set(job.id, n);
      if (job.data.failFirst && n === 1) {
        throw new Error('first attempt fails on purpose');
      }
      await job.updateProgress(50);
      return { doubled: job.data.n * 2, attempt: n };
    },
    { connection, concurrency: 8 },
  );
  worker.on('error', (e) => console.error('worker error:', e.message));

  const jobs = [];
  for (let i = 0; i < JOBS; i++) {
    const opts = {};
    if (i % 10 === 0) opts.priority = 1 + (i % 3);
    if (i % 25 === 0) opts.delay = 300;
    const failFirst = i % 20 === 5;
    if (failFirst) {
      opts.attempts = 3;
      opts.backoff = { type: 'fixed', delay: 100 };
    }
    jobs.push(await queue.add('double', { n: i, failFirst }, opts));
  }
  const bulk = await queue.addBulk(
    Array.from({ length: 20 }, (_, i) => ({ name: 'bulk', data: { n: 1000 + i } })),
  );
  jobs.push(...bulk);

  // A parent job that waits for its children (flows use more scripts).
  const flow = new FlowProducer({ connection });
  const tree = await flow.add({
    name: 'parent',
    queueName: name,
    data: { n: 7 },
    children: [
      { name: 'child', queueName: name, data: { n: 1 } },
      { name: 'child', queueName: name, data: { n: 2 } },
    ],
  });
  jobs.push(tree.job, ...tree.children.map((c) => c.job));

  for (const job of jobs) {
    const result = await job.waitUntilFinished(events, DEADLINE_MS);
    if (!result || result.doubled !== job.data.n * 2) {
      fail(`job ${job.id} (n=${job.data.n}) returned ${JSON.stringify(result)}`);
    }
    if (job.data.failFirst && result.attempt !== 2) {
      fail(`job ${job.id} should have succeeded on its second attempt, got ${result.attempt}`);
    }
  }

  const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
  if (counts.completed !== jobs.length || counts.failed !== 0) {
    fail(`job counts ${JSON.stringify(counts)}, expected ${jobs.length} completed`);
  }
  const done = await queue.getCompleted(0, 4);
  if (done.length !== 5 || done.some((j) => j.progress !== 50)) {
    fail(`getCompleted returned ${done.length} jobs or lost their progress`);
  }
  // Events reach QueueEvents through the stream; give the reader a moment.
  for (let i = 0; i < 50 && completedByEvents.size < jobs.length; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (completedByEvents.size < jobs.length) {
    fail(`QueueEvents saw ${completedByEvents.size} of ${jobs.length} completions`);
  }

  await worker.close();
  await flow.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await events.close();
  clearTimeout(timer);
  console.log(`ok: ${jobs.length} jobs completed (${JOBS} added one by one, 20 in bulk, a flow of 3)`);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
